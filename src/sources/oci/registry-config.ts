/**
 * The plans' registry config, `OCIRegistryRepository` (Go struct without json tags, so keys arrive as Go field
 * names: `RegistryType`, `OCIAuth`, `LoginServer`; matched case-insensitively, PROTOCOL.md §0), and what the
 * client needs from it: where the repository is, and which credentials to use.
 *
 * Where: `LoginServer` (when set and not already a prefix) + `/` + `Repository`, like the Nuon runner does; a
 * `http://` prefix on either selects plain HTTP. Credentials:
 * - `OCIAuth {Username, Password}` for every registry type (the control plane puts short-lived registry
 *   tokens there, e.g. for ACR); for ACR, the username `00000000-0000-0000-0000-000000000000` means the
 *   password is a refresh token, exchanged at the token service with the OAuth2 `refresh_token` grant;
 * - `ecr` without `OCIAuth`: a token from ECR GetAuthorizationToken with `ECRAuth` (ecr.ts);
 * - `acr` without `OCIAuth`: an Azure AD token exchanged for an ACR refresh token with `ACRAuth` (acr.ts);
 *   both need the network, so credentialsFor only names them (cloudCredentialsSpec) and connect.ts makes
 *   the lazy provider; credentialsFor itself refuses them;
 * - `gar` without `OCIAuth`: exchanging Google identities is not supported yet;
 * - `public_oci`/`private_oci` without `OCIAuth`: anonymous (token services still hand out pull tokens).
 */
import * as z from "zod";
import { caseInsensitiveKeys } from "../../control-plane/go-keys.ts";
import { OciError } from "./errors.ts";
import { type ImageReference, parseReference } from "./reference.ts";

/** `OCIAuth`: registry username and password (or token). */
export const OciRegistryAuth = caseInsensitiveKeys(
  z.looseObject({
    Username: z.string().nullish(),
    Password: z.string().nullish(),
  }),
);

/** `OCIRegistryRepository` from a plan (pkg/plugins/configs/registry_oci.go). */
export const OciRegistryRepository = caseInsensitiveKeys(
  z.looseObject({
    Plugin: z.string().nullish(),
    /** ecr | acr | gar | private_oci | public_oci (an unknown type is treated like private_oci). */
    RegistryType: z.string().nullish(),
    Region: z.string().nullish(),
    ECRAuth: z.unknown().optional(),
    ACRAuth: z.unknown().optional(),
    OCIAuth: OciRegistryAuth.nullish(),
    Repository: z.string().nullish(),
    LoginServer: z.string().nullish(),
  }),
);
/** A parsed `OCIRegistryRepository`. */
export type OciRegistryRepository = z.infer<typeof OciRegistryRepository>;

/** ACR's placeholder username saying "the password is a refresh token". */
export const ACR_REFRESH_TOKEN_USERNAME = "00000000-0000-0000-0000-000000000000";

/** Credentials known up front (or once a provider has fetched them). */
export type StaticRegistryCredentials =
  | { kind: "anonymous" }
  | { kind: "basic"; username: string; password: string }
  | { kind: "refresh-token"; refreshToken: string };

/** Credentials a provider fetched, and until when (epoch ms) they may be used. */
export type ProvidedRegistryCredentials = Exclude<StaticRegistryCredentials, { kind: "anonymous" }> & {
  expiresAtMs: number;
};

/** How to authenticate to a registry. */
export type RegistryCredentials =
  | StaticRegistryCredentials
  /** Fetched on first need from a cloud (ECR, ACR) and cached by the provider until shortly before expiry. */
  | {
      kind: "provider";
      /** What they are, for messages: `ECR credentials (region us-east-1)`. Never a secret. */
      description: string;
      get(signal?: AbortSignal): Promise<ProvidedRegistryCredentials>;
    };

/** Where a cloud registry's credentials come from when `OCIAuth` is empty. */
export type CloudCredentialsSpec =
  | { cloud: "ecr"; registry: string; region: string | undefined; auth: unknown }
  | { cloud: "acr"; registry: string; scheme: "https" | "http"; auth: unknown };

/** The cloud exchange a config needs (ecr/acr without OCIAuth), or undefined when credentialsFor covers it. */
export function cloudCredentialsSpec(config: OciRegistryRepository): CloudCredentialsSpec | undefined {
  const type = (config.RegistryType ?? "").toLowerCase();
  if ((config.OCIAuth?.Username ?? "") !== "" || (config.OCIAuth?.Password ?? "") !== "") return undefined;
  if (type !== "ecr" && type !== "acr") return undefined;
  const location = repositoryLocation(config);
  if (type === "ecr") {
    return {
      cloud: "ecr",
      registry: location.registry,
      region: (config.Region ?? "").trim() || undefined,
      auth: config.ECRAuth,
    };
  }
  return { cloud: "acr", registry: location.registry, scheme: location.scheme, auth: config.ACRAuth };
}

/** The repository a config names, as a reference without tag or digest; throws OciError INVALID. */
export function repositoryLocation(config: OciRegistryRepository): ImageReference {
  const repository = (config.Repository ?? "").trim();
  const loginServer = (config.LoginServer ?? "").trim().replace(/\/+$/, "");
  if (repository === "") {
    throw new OciError("INVALID", "the registry config has no Repository; the plan must name the repository");
  }
  const bareServer = stripScheme(loginServer);
  const bareRepository = stripScheme(repository);
  const full =
    bareServer !== "" && !bareRepository.startsWith(`${bareServer}/`)
      ? `${bareServer}/${bareRepository}`
      : bareRepository;
  const http = /^http:\/\//.test(loginServer) || /^http:\/\//.test(repository);
  const ref = parseReference(`${http ? "http://" : ""}${full}`);
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw new OciError(
      "INVALID",
      `the registry config's Repository ${JSON.stringify(repository)} must not carry a tag or digest`,
    );
  }
  return ref;
}

/** The credentials a config implies (see the module comment); throws OciError UNSUPPORTED when none can be had. */
export function credentialsFor(config: OciRegistryRepository): RegistryCredentials {
  const type = (config.RegistryType ?? "").toLowerCase();
  const username = config.OCIAuth?.Username ?? "";
  const password = config.OCIAuth?.Password ?? "";
  if (password !== "" || username !== "") {
    if (type === "acr" && username === ACR_REFRESH_TOKEN_USERNAME)
      return { kind: "refresh-token", refreshToken: password };
    return { kind: "basic", username, password };
  }
  switch (type) {
    case "ecr":
      throw new OciError(
        "UNSUPPORTED",
        "ECR registries without OCIAuth need a token from ECR GetAuthorizationToken, fetched over the network (connectRepository does it); static credentials cannot be derived from the config alone",
      );
    case "acr":
      throw new OciError(
        "UNSUPPORTED",
        "ACR registries without OCIAuth need an Azure AD token (ACRAuth) exchanged for a registry token over the network (connectRepository does it); static credentials cannot be derived from the config alone",
      );
    case "gar":
      throw new OciError(
        "UNSUPPORTED",
        "GAR registries need OCIAuth credentials; exchanging Google workload identities is not supported yet",
      );
    default:
      return { kind: "anonymous" };
  }
}

function stripScheme(value: string): string {
  return value.replace(/^https?:\/\//, "");
}
