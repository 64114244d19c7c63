output "bucket_name" {
  description = "Bucket that holds the site's files."
  value       = local.bucket_name
}

output "site_url" {
  description = "Main address of the site."
  value       = "https://${local.domains[0]}/${var.index_document}"
}

output "domains" {
  description = "Every domain that serves the site."
  value       = local.domains
}

output "labels" {
  value = local.labels
}
