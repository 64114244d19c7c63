terraform {
  required_version = ">= 1.3.0"
}

locals {
  instance_name = "notebook-${replace(var.machine_type, "-", "")}"
  idle_minutes  = var.auto_shutdown ? var.notebook.idle_shutdown_minutes : 0
  packages      = join(" ", var.notebook.packages)
  # The token goes into the notebook's URL; the URL is therefore sensitive too.
  notebook_url = "https://${local.instance_name}.notebooks.example.com/?token=${var.access_token}"
}
