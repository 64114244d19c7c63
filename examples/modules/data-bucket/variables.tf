variable "module_description" {
  description = "Card text. {{UIMeta group=0 order=1}}"
  type        = string
  default     = "Plans a data bucket with a storage class, retention, versioning and lifecycle rules."
}

variable "module_documentation" {
  description = "Documentation link. {{UIMeta group=0 order=2}}"
  type        = string
  default     = "https://docs.example.com/modules/data-bucket"
}

variable "credit_cost" {
  description = "Credits per deployment (exact decimals are kept). {{UIMeta group=0 order=3}}"
  type        = number
  default     = 120.5
}

variable "require_credit_purchases" {
  description = "Only purchased credits pay for this module. {{UIMeta group=0 order=4}}"
  type        = bool
  default     = true
}

variable "public_access" {
  description = "Visible to every user. {{UIMeta group=0 order=5}}"
  type        = bool
  default     = true
}

variable "bucket_name" {
  description = "Globally unique bucket name. {{UIMeta group=1 order=1}}"
  type        = string
  default     = "rad-data"
}

variable "storage_class" {
  description = "Storage class of new objects. {{UIMeta group=1 order=2}}"
  type        = string
  default     = "STANDARD"

  validation {
    condition     = contains(["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"], var.storage_class)
    error_message = "The storage class must be STANDARD, NEARLINE, COLDLINE or ARCHIVE."
  }
}

variable "versioning" {
  description = "Keep old versions of overwritten objects. {{UIMeta group=1 order=3}}"
  type        = bool
  default     = false
}

variable "retention_days" {
  description = "Days before objects may be deleted (0 to 3650). {{UIMeta group=2 order=1}}"
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.retention_days >= 0 && var.retention_days <= 3650
    error_message = "The retention must be between 0 and 3650 days."
  }
}

variable "lifecycle_rule" {
  description = "When objects move to a colder class or are deleted. {{UIMeta group=2 order=2}}"
  type = object({
    age_days      = number
    target_class  = optional(string, "COLDLINE")
    delete_after  = optional(number)
    only_prefixes = optional(list(string), [])
  })
  default = {
    age_days = 90
  }
}

variable "quotas_gb" {
  description = "Storage quota in GB per team. {{UIMeta group=2 order=3}}"
  type        = map(number)
  default = {
    analytics = 500
    research  = 250.5
  }

  validation {
    condition     = alltrue([for team, quota in var.quotas_gb : quota > 0])
    error_message = "Every quota must be above 0 GB."
  }
}
