/** The one error type of the embedded control plane: an HTTP status plus Nuon's `{error, description}` body. */

/** A request the control plane refuses; routes throw it and the server turns it into the response. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  /** HTTP status, e.g. 409. */
  readonly status: number;
  /** Short error kind, e.g. `conflict` (the `error` field). */
  readonly error: string;
  /** A body to send instead of `{error, description}` (terraform's lock conflict sends the lock info). */
  readonly body: unknown;

  constructor(
    status: number,
    error: string,
    description: string,
    options?: { body?: unknown; cause?: unknown },
  ) {
    super(description, { cause: options?.cause });
    this.status = status;
    this.error = error;
    this.body = options?.body;
  }

  /** The response body: `{error, description, user_error}` unless an explicit body was given. */
  toBody(): unknown {
    return this.body ?? { error: this.error, description: this.message, user_error: this.status < 500 };
  }
}

/** 404 naming what was not found. */
export function notFound(what: string, id: string): ApiError {
  return new ApiError(404, "not found", `${what} ${id} not found`);
}

/** 403: the runner token does not own this object. */
export function forbidden(description: string): ApiError {
  return new ApiError(403, "forbidden", description);
}

/** 400 for a body or query that does not validate. */
export function invalidRequest(description: string, options?: { cause?: unknown }): ApiError {
  return new ApiError(400, "invalid request", description, options);
}
