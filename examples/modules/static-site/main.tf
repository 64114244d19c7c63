terraform {
  required_version = ">= 1.3.0"
}

locals {
  bucket_name = "site-${var.site_name}"
  domains     = concat(["${var.site_name}.sites.example.com"], var.custom_domains)
  headers = {
    "Cache-Control" = "public, max-age=${var.cache_ttl_seconds}"
  }
  labels = merge(var.labels, { site = var.site_name })
}
