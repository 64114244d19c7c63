terraform {
  required_version = ">= 1.3.0"
}

locals {
  alerts = {
    for name, percent in var.thresholds : name => {
      percent = percent
      amount  = var.monthly_budget * percent / 100
    }
  }
  recipients = var.alert_channel == "email" ? var.notification_emails : []
  signature  = sha256("${var.webhook_secret}:${var.monthly_budget}")
}
