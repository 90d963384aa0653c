/**
 * `mng-vm-shut-down`: stops the machine this runner runs on, through its cloud's API: AWS EC2 StopInstances
 * (instance id from IMDSv2) or Azure deallocate (VM from Azure IMDS, managed identity). The call is made in
 * `execute`, so a refusal (no permission, not a cloud VM) fails the job visibly instead of being lost after
 * it. Both clouds stop the OS with an ACPI shutdown: systemd stops the runner and `runner mng`, which drain,
 * so this job's `finished` status is still delivered. Nuon's runner shut the OS down instead, which leaves the
 * instance stopped-but-billed on Azure and depends on the instance's shutdown behaviour on AWS.
 */
import * as z from "zod";
import { describeInstance, detectCloud, stopInstance } from "../../cloud/detect.ts";
import type { JobHandler } from "../handler.ts";
import type { ManagementDeps } from "./deps.ts";

/** Creates the `mng-vm-shut-down` handler. */
export function createMngVmShutDownHandler(deps: ManagementDeps): JobHandler<unknown> {
  return {
    name: "mng-vm-shut-down",
    needsWorkspace: false,
    parsePlan: (raw) => z.unknown().parse(raw),
    async execute(ctx) {
      const instance = await detectCloud(deps.cloud);
      if (instance === undefined) {
        throw new Error(
          "no instance metadata service answered (AWS IMDSv2, Azure IMDS): this is not a cloud VM this runner can stop; nothing was stopped",
        );
      }
      const described = describeInstance(instance);
      ctx.log.info("stopping this VM through its cloud API", { instance: described });
      await stopInstance(instance, { ...deps.cloud, signal: ctx.signal });
      ctx.log.info("the cloud accepted the stop; the machine shuts down shortly", { instance: described });
      ctx.outputs.cloud = instance.cloud;
      ctx.outputs.instance = instance.cloud === "aws" ? instance.instanceId : instance.name;
    },
  };
}
