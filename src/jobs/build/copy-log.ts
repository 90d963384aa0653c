/** Logging the progress of an image copy (copy.ts) to a job's log, one line per blob or manifest. */
import type { CopyProgress } from "../../sources/oci/copy.ts";
import type { JobLog } from "../handler.ts";

/** A copy progress listener writing to `log`. */
export function logCopyProgress(log: JobLog): (event: CopyProgress) => void {
  return (event) => {
    const what = event.kind === "manifest" ? "manifest" : "blob";
    const verb = {
      copied: "copied",
      mounted: "mounted",
      exists: "already present:",
      skipped: "skipped non-distributable",
    }[event.action];
    log.info(`${what} ${verb}`, { digest: event.digest, bytes: event.size });
  };
}
