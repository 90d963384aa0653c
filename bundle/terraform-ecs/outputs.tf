output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.runner.name
}

output "task_definition_arn" {
  description = "ARN of the task definition revision in use."
  value       = aws_ecs_task_definition.runner.arn
}

output "task_role_arn" {
  description = "Role the runner and its jobs run as; grant deploy permissions here."
  value       = aws_iam_role.task.arn
}

output "execution_role_arn" {
  description = "Role ECS uses to pull the image, read the token and write logs."
  value       = aws_iam_role.execution.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the runner."
  value       = aws_cloudwatch_log_group.runner.name
}

output "stop_timeout_seconds" {
  description = "Seconds ECS waits after SIGTERM before SIGKILL (drain_timeout_seconds + 30)."
  value       = local.stop_timeout
}
