variable "module_description" {
  description = "{{UIMeta group=0 order=1}} What the module does."
  type        = string
  default     = "Plans a static website: its bucket, its domains and how long pages are cached."
}

variable "module_documentation" {
  description = "{{UIMeta group=0 order=2}} Documentation link."
  type        = string
  default     = "https://docs.example.com/modules/static-site"
}

variable "credit_cost" {
  description = "{{UIMeta group=0 order=3}} Credits per deployment."
  type        = number
  default     = 75
}

variable "public_access" {
  description = "{{UIMeta group=0 order=4}} Private draft until set to true."
  type        = bool
  default     = false
}

variable "module_dependency" {
  description = "{{UIMeta group=0 order=5}} Deploy the network first."
  type        = list(string)
  default     = ["network-plan"]
}

variable "site_name" {
  description = "Name of the site, used in its bucket name. {{UIMeta group=1 order=1}}"
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.site_name))
    error_message = "The site name must be 3 to 31 lowercase letters, digits or dashes, starting with a letter."
  }
}

variable "index_document" {
  description = "Page served for the site root. {{UIMeta group=1 order=2}}"
  type        = string
  default     = "index.html"
}

variable "custom_domains" {
  description = "Extra domain names that serve the site. {{UIMeta group=2 order=1}}"
  type        = list(string)
  default     = []
}

variable "cache_ttl_seconds" {
  description = "How long browsers may cache a page, in seconds. {{UIMeta group=2 order=2}}"
  type        = number
  default     = 3600

  validation {
    condition     = var.cache_ttl_seconds >= 0 && var.cache_ttl_seconds <= 86400
    error_message = "The cache time must be between 0 and 86400 seconds."
  }
}

variable "labels" {
  description = "Labels added to every resource. {{UIMeta group=2 order=3}}"
  type        = map(string)
  default = {
    team = "web"
    env  = "dev"
  }
}
