output "instance_name" {
  description = "Name of the notebook machine."
  value       = local.instance_name
}

output "gpu_count" {
  description = "GPUs attached."
  value       = var.gpu_count
}

output "idle_shutdown_minutes" {
  description = "Idle minutes before shutdown (0: never)."
  value       = local.idle_minutes
}

output "notebook_url" {
  description = "Address of the notebook, with its access token."
  value       = local.notebook_url
  sensitive   = true
}
