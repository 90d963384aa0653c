/**
 * Parsing `WWW-Authenticate` headers (RFC 7235): one or more challenges, each a scheme and `key=value`
 * parameters whose values may be quoted strings containing commas, as registries send them:
 * `Bearer realm="https://auth.example/token",service="registry",scope="repository:app:pull,push"`.
 */

/** One challenge: lowercased scheme and its parameters (keys lowercased). */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses a WWW-Authenticate header value (or several) into challenges; unparseable parts are skipped. */
export function parseAuthChallenges(header: string | string[] | undefined): AuthChallenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  return values.flatMap(parseOne);
}

function parseOne(value: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < value.length && (value[i] === " " || value[i] === "\t")) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < value.length && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(value[i] as string)) i++;
    return value.slice(start, i);
  };
  const readQuoted = (): string => {
    let out = "";
    i++; // opening quote
    while (i < value.length && value[i] !== '"') {
      if (value[i] === "\\" && i + 1 < value.length) i++;
      out += value[i];
      i++;
    }
    i++; // closing quote
    return out;
  };
  let current: AuthChallenge | undefined;
  while (i < value.length) {
    skipSpace();
    if (value[i] === ",") {
      i++;
      continue;
    }
    const token = readToken();
    if (token === "") {
      i++; // unexpected character: skip it
      continue;
    }
    skipSpace();
    if (value[i] === "=" && current !== undefined) {
      i++;
      skipSpace();
      const paramValue = value[i] === '"' ? readQuoted() : readToken();
      current.params[token.toLowerCase()] = paramValue;
    } else {
      current = { scheme: token.toLowerCase(), params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}
