terraform {
  required_version = ">= 1.3.0"
}

locals {
  bucket = {
    name          = lower(var.bucket_name)
    storage_class = var.storage_class
    versioning    = var.versioning
    retention     = "${var.retention_days * 86400}s"
  }
  rules = [
    {
      action   = "SetStorageClass"
      class    = var.lifecycle_rule.target_class
      age_days = var.lifecycle_rule.age_days
      prefixes = var.lifecycle_rule.only_prefixes
    },
  ]
  total_quota_gb = sum(concat([0], values(var.quotas_gb)))
}
