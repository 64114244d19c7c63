output "bucket" {
  description = "The planned bucket."
  value       = local.bucket
}

output "lifecycle_rules" {
  description = "Lifecycle rules, in order."
  value       = local.rules
}

output "total_quota_gb" {
  description = "Sum of the team quotas, in GB."
  value       = local.total_quota_gb
}
