# Runner as an ECS (Fargate) service: one task definition, two least-privilege IAM roles, a log group,
# and optionally an egress-only security group. See docs/deployment.md.

data "aws_region" "current" {}

resource "aws_cloudwatch_log_group" "runner" {
  name              = "/ecs/runner/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

# ---- execution role: what ECS itself does for the task (pull, token, logs) --------------------------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-runner-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.runner.arn}:*"]
  }

  statement {
    sid       = "ReadToken"
    actions   = local.token_is_ssm ? ["ssm:GetParameters"] : ["secretsmanager:GetSecretValue"]
    resources = [var.token_secret_arn]
  }

  dynamic "statement" {
    for_each = var.token_kms_key_arn == null ? [] : [var.token_kms_key_arn]
    content {
      sid       = "DecryptToken"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }

  # Pulling from ECR; the token call cannot be scoped to a repository
  statement {
    sid       = "PullImage"
    actions   = ["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "runner-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# ---- task role: what the runner and its jobs may do (nothing by default) ----------------------------

resource "aws_iam_role" "task" {
  name               = "${var.name}-runner-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "task" {
  for_each   = toset(var.task_role_policy_arns)
  role       = aws_iam_role.task.name
  policy_arn = each.value
}

data "aws_iam_policy_document" "assume_roles" {
  count = length(var.assumable_role_arns) == 0 ? 0 : 1
  statement {
    actions   = ["sts:AssumeRole", "sts:TagSession"]
    resources = var.assumable_role_arns
  }
}

resource "aws_iam_role_policy" "assume_roles" {
  count  = length(var.assumable_role_arns) == 0 ? 0 : 1
  name   = "runner-assume-job-roles"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.assume_roles[0].json
}

# ---- network ---------------------------------------------------------------------------------------

resource "aws_security_group" "runner" {
  count       = local.make_sg ? 1 : 0
  name        = "${var.name}-runner"
  description = "Runner: no inbound; outbound to the control plane and whatever jobs deploy to"
  vpc_id      = var.vpc_id
  tags        = var.tags

  egress {
    description = "all outbound (control plane, git, registries, cloud APIs)"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

# ---- task definition and service ---------------------------------------------------------------------

resource "aws_ecs_task_definition" "runner" {
  family                   = "${var.name}-runner"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  tags                     = var.tags

  ephemeral_storage {
    size_in_gib = var.ephemeral_storage_gib
  }

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "state"
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name                   = "runner"
      image                  = var.image
      essential              = true
      command                = [var.mode]
      user                   = "10001:10001"
      readonlyRootFilesystem = true
      stopTimeout            = local.stop_timeout
      environment            = local.container_environment
      secrets                = local.container_secrets
      mountPoints = [
        { sourceVolume = "state", containerPath = local.state_dir, readOnly = false },
        { sourceVolume = "tmp", containerPath = local.workspace_dir, readOnly = false },
      ]
      healthCheck = {
        command     = local.health_command
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 60
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.runner.name
          awslogs-region        = data.aws_region.current.id
          awslogs-stream-prefix = "runner"
        }
      }
    }
  ])
}

resource "aws_ecs_service" "runner" {
  name                   = "${var.name}-runner"
  cluster                = var.cluster_arn
  task_definition        = aws_ecs_task_definition.runner.arn
  desired_count          = var.desired_count
  launch_type            = "FARGATE"
  enable_execute_command = false
  propagate_tags         = "SERVICE"
  tags                   = var.tags

  # start the new task before the old one drains: no gap in job pickup during a deploy
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = local.make_sg ? [aws_security_group.runner[0].id] : var.security_group_ids
    assign_public_ip = var.assign_public_ip
  }

  lifecycle {
    precondition {
      condition     = !local.make_sg || var.vpc_id != null
      error_message = "vpc_id is required when security_group_ids is empty (the module then makes an egress-only group)."
    }
  }
}
