variable "module_description" {
  description = "Card text. {{UIMeta group=0 order=1}}"
  type        = string
  default     = "Plans budget alerts: a monthly budget, alert thresholds and where the alerts go."
}

variable "module_documentation" {
  description = "Documentation link. {{UIMeta group=0 order=2}}"
  type        = string
  default     = "https://docs.example.com/modules/budget-alerts"
}

variable "credit_cost" {
  description = "Free to deploy. {{UIMeta group=0 order=3}}"
  type        = number
  default     = 0
}

variable "require_credit_purchases" {
  description = "Awarded credits are fine. {{UIMeta group=0 order=4}}"
  type        = bool
  default     = false
}

variable "public_access" {
  description = "Visible to every user. {{UIMeta group=0 order=5}}"
  type        = bool
  default     = true
}

variable "monthly_budget" {
  description = "Budget per month, in dollars. {{UIMeta group=1 order=1}}"
  type        = number
  default     = 100

  validation {
    condition     = var.monthly_budget > 0 && var.monthly_budget <= 100000
    error_message = "The monthly budget must be above 0 and at most 100000."
  }
}

variable "thresholds" {
  description = "Alert names and the percentage of the budget that triggers them. {{UIMeta group=1 order=2}}"
  type        = map(number)
  default = {
    warning  = 50
    critical = 90
    over     = 100
  }

  validation {
    condition     = alltrue([for name, percent in var.thresholds : percent > 0 && percent <= 200])
    error_message = "Every threshold must be a percentage between 1 and 200."
  }
}

variable "alert_channel" {
  description = "Where alerts are sent. {{UIMeta group=2 order=1}}"
  type        = string
  default     = "email"

  validation {
    condition     = contains(["email", "slack", "pubsub"], var.alert_channel)
    error_message = "The alert channel must be email, slack or pubsub."
  }
}

variable "notification_emails" {
  description = "Addresses that receive email alerts. {{UIMeta group=2 order=2}}"
  type        = list(string)
  default     = []
}

variable "webhook_secret" {
  description = "Secret that signs alert webhooks. {{UIMeta group=2 order=3}}"
  type        = string
  default     = "change-me-please"
  sensitive   = true
}
