# Values computed from the variables alone (no provider needed), so test/packaging/terraform-ecs.test.ts
# can evaluate them with a real terraform offline.
locals {
  # ECS waits stopTimeout after SIGTERM, then SIGKILLs; its ceiling is 120 s (hence drain <= 90)
  stop_timeout  = var.drain_timeout_seconds + 30
  token_is_ssm  = can(regex("^arn:aws[a-z-]*:ssm:", var.token_secret_arn))
  make_sg       = length(var.security_group_ids) == 0
  admin_port    = 5000
  state_dir     = "/var/lib/runner"
  workspace_dir = "/tmp"

  environment = merge(var.extra_environment, {
    RUNNER_API_URL       = var.api_url
    RUNNER_ID            = var.runner_id
    LOG_LEVEL            = var.log_level
    RUNNER_LOG_FORMAT    = "json"
    RUNNER_DRAIN_TIMEOUT = "${var.drain_timeout_seconds}s"
    RUNNER_STATE_DIR     = local.state_dir
    RUNNER_ADMIN_PORT    = tostring(local.admin_port)
  })
  container_environment = [for key in sort(keys(local.environment)) : { name = key, value = local.environment[key] }]
  # the token comes from SSM Parameter Store or Secrets Manager when the task starts, never as plain environment
  container_secrets = [{ name = "RUNNER_API_TOKEN", valueFrom = var.token_secret_arn }]

  health_command = [
    "CMD", "node", "-e",
    "fetch('http://127.0.0.1:${local.admin_port}/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))",
  ]
}
