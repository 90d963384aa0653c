# A terraform module that runs offline: `terraform_data` is built into terraform, so `terraform init` downloads
# no provider, and the local-exec provisioner only runs `echo`. run-local keeps its state between runs (see
# docs/job-files.md, `state`), so a second run with the same variables changes nothing.

variable "name" {
  type        = string
  description = "Who the greeting is for (only the greeting output uses it)."
  default     = "world"
}

variable "environment" {
  type        = string
  description = "Stored in the terraform_data resource."
  default     = "dev"
}

resource "terraform_data" "environment" {
  input = {
    environment = var.environment
    managed_by  = "runner run-local"
  }

  provisioner "local-exec" {
    command = "echo provisioning the ${var.environment} environment"
  }
}

output "greeting" {
  value = "hello, ${var.name}"
}

output "environment" {
  value = terraform_data.environment.output.environment
}
