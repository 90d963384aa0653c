/**
 * Media types of OCI and Docker v2 manifests, indexes, configs and layers, plus the artifact types this runner
 * pushes. Manifests are told apart by media type only (never by guessing from content).
 */

/** OCI image manifest. */
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
/** OCI image index (a multi-platform image, or a list of artifacts). */
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
/** Docker image manifest, schema 2. */
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
/** Docker manifest list (the Docker flavour of an index). */
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
/** OCI image config. */
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
/** Docker image config. */
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
/** The OCI 1.1 empty descriptor's media type (content `{}`). */
export const OCI_EMPTY = "application/vnd.oci.empty.v1+json";
/** OCI gzip-compressed tar layer. */
export const OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
/** Docker gzip-compressed tar layer. */
export const DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/** Layer of a terraform-module artifact: the module directory as a reproducible tar.gz, paths relative to it. */
export const NUON_TERRAFORM_MODULE_LAYER = "application/vnd.nuon.terraform.module.v1.tar+gzip";
/** Config of a terraform-module artifact: JSON `{ "labels": {…} }`. */
export const NUON_TERRAFORM_MODULE_CONFIG = "application/vnd.nuon.terraform.module.config.v1+json";
/** Helm's OCI chart config (Chart.yaml as JSON), as `helm push` writes it. */
export const HELM_CHART_CONFIG = "application/vnd.cncf.helm.config.v1+json";
/** Helm's OCI chart layer (`<chart name>/…` as tar.gz), as `helm push` writes it. */
export const HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/** Annotation naming a layer's file (ORAS file stores use it; the Nuon Go runner pushes one file per layer). */
export const ANNOTATION_TITLE = "org.opencontainers.image.title";
/** Annotation: the source repository URL. */
export const ANNOTATION_SOURCE = "org.opencontainers.image.source";
/** Annotation: the source revision (commit). */
export const ANNOTATION_REVISION = "org.opencontainers.image.revision";
/** ORAS annotation marking a layer as a directory tarball to unpack. */
export const ANNOTATION_ORAS_UNPACK = "io.deis.oras.content.unpack";

/** Every manifest media type the client understands, for the Accept header, most specific first. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  OCI_MANIFEST,
  OCI_INDEX,
  DOCKER_MANIFEST,
  DOCKER_MANIFEST_LIST,
];

/** Whether `mediaType` is an index (OCI index or Docker manifest list). */
export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
}

/** Whether `mediaType` is a single-image manifest (OCI or Docker v2). */
export function isImageManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST;
}

/** Whether a layer of this media type is a gzip-compressed tarball. */
export function isTarGzipMediaType(mediaType: string): boolean {
  return (
    /(^|[./+])tar[+.]gzip$/.test(mediaType) || mediaType.endsWith(".tar.gz") || mediaType.endsWith("+tgz")
  );
}

/** Whether a layer of this media type is an uncompressed tarball. */
export function isTarMediaType(mediaType: string): boolean {
  return /(^|[./+])tar$/.test(mediaType) || mediaType === "application/x-tar";
}

/** Whether a layer may not be pushed by third parties (Windows base layers); copies skip such blobs. */
export function isNonDistributableMediaType(mediaType: string): boolean {
  return mediaType.includes(".nondistributable.") || mediaType.includes(".foreign.");
}
