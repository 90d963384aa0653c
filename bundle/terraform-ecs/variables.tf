variable "name" {
  description = "Name of the ECS service, task family, IAM roles and log group (e.g. the runner id)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,48}$", var.name))
    error_message = "name must be 1-48 letters, digits, _ or - (it prefixes IAM role names)."
  }
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster to run in."
  type        = string
}

variable "image" {
  description = "Runner image with tag or digest, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/runner:0.1.0."
  type        = string
}

variable "mode" {
  description = "Job-running mode: the container runs `runner <mode>`."
  type        = string
  default     = "install"

  validation {
    condition     = contains(["run", "org", "build", "install"], var.mode)
    error_message = "mode must be one of run, org, build, install."
  }
}

variable "api_url" {
  description = "RUNNER_API_URL: the control plane's runner API."
  type        = string
  default     = "https://api.nuon.co"
}

variable "runner_id" {
  description = "RUNNER_ID: this runner's id in the control plane."
  type        = string
}

variable "token_secret_arn" {
  description = "ARN of the SSM SecureString parameter or Secrets Manager secret holding the runner API token. The token never appears in the task definition."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:(ssm:[^:]+:[0-9]+:parameter/|secretsmanager:[^:]+:[0-9]+:secret:)", var.token_secret_arn))
    error_message = "token_secret_arn must be an SSM parameter ARN or a Secrets Manager secret ARN."
  }
}

variable "token_kms_key_arn" {
  description = "ARN of the customer-managed KMS key encrypting the token, if any (the AWS-managed key needs nothing)."
  type        = string
  default     = null
}

variable "log_level" {
  description = "LOG_LEVEL (Nuon names accepted: INFO, WARN, ...)."
  type        = string
  default     = "INFO"
}

variable "drain_timeout_seconds" {
  description = "RUNNER_DRAIN_TIMEOUT: how long running jobs may finish after SIGTERM. The container's stopTimeout is this + 30, and ECS allows at most 120 s, so at most 90."
  type        = number
  default     = 90

  validation {
    condition     = var.drain_timeout_seconds >= 0 && var.drain_timeout_seconds <= 90 && floor(var.drain_timeout_seconds) == var.drain_timeout_seconds
    error_message = "drain_timeout_seconds must be a whole number from 0 to 90: ECS stops a container at most 120 s after SIGTERM, and the runner needs 30 s after the drain to cancel and report."
  }
}

variable "extra_environment" {
  description = "More non-secret settings, e.g. { RUNNER_CONCURRENCY = \"2\" }."
  type        = map(string)
  default     = {}

  validation {
    condition     = !contains(keys(var.extra_environment), "RUNNER_API_TOKEN")
    error_message = "RUNNER_API_TOKEN must come from token_secret_arn, never from plain environment."
  }
}

variable "task_cpu" {
  description = "Task CPU units (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "task_memory" {
  description = "Task memory in MiB."
  type        = number
  default     = 4096
}

variable "ephemeral_storage_gib" {
  description = "Fargate ephemeral storage for job workspaces, in GiB (21-200)."
  type        = number
  default     = 50
}

variable "desired_count" {
  description = "Number of runner tasks."
  type        = number
  default     = 1
}

variable "subnet_ids" {
  description = "Private subnets for the tasks."
  type        = list(string)
}

variable "vpc_id" {
  description = "VPC of the subnets; used for the egress-only security group made when security_group_ids is empty."
  type        = string
  default     = null
}

variable "security_group_ids" {
  description = "Security groups for the tasks; when empty, an egress-only group is made in vpc_id."
  type        = list(string)
  default     = []
}

variable "assign_public_ip" {
  description = "Give tasks a public IP (only for public subnets without a NAT gateway)."
  type        = bool
  default     = false
}

variable "task_role_policy_arns" {
  description = "Managed policies for the task role: what deploy jobs need (the runner itself needs none)."
  type        = list(string)
  default     = []
}

variable "assumable_role_arns" {
  description = "IAM roles the runner may assume for jobs (e.g. the install's role); sts:AssumeRole on exactly these."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention."
  type        = number
  default     = 30
}

variable "log_kms_key_arn" {
  description = "KMS key for the log group, if any."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
