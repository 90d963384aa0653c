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
 * - `ecr` without `OCIAuth`: would call ECR GetAuthorizationToken with `ECRAuth`; not supported yet
 *   (@aws-sdk/client-ecr is not a dependency), so it fails saying so;
 * - `acr`/`gar` without `OCIAuth`: exchanging cloud identities is not supported yet either;
 * - `public_oci`/`private_oci` without `OCIAuth`: anonymous (token services still hand out pull tokens).
 */
import { z } from "zod";
import { caseInsensitiveKeys } from "../../control-plane/schemas.ts";
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

/** How to authenticate to a registry. */
export type RegistryCredentials =
  | { kind: "anonymous" }
  | { kind: "basic"; username: string; password: string }
  | { kind: "refresh-token"; refreshToken: string };

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
        "ECR registries need a token from ECR GetAuthorizationToken, which this runner cannot fetch yet (no AWS ECR client is bundled); put a registry token in OCIAuth instead",
      );
    case "acr":
      throw new OciError(
        "UNSUPPORTED",
        "ACR registries need OCIAuth credentials (a registry token minted by the control plane); exchanging Azure credentials (ACRAuth) is not supported yet",
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
