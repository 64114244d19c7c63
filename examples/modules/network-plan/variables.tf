# Catalog metadata (group 0): read by RAD, never shown on the deploy form.

variable "module_description" {
  description = "What the module does, shown on its catalog card. {{UIMeta group=0 order=1}}"
  type        = string
  default     = "Plans a private network: an address range split into one subnet per zone, with optional NAT."
}

variable "module_documentation" {
  description = "Link to the module's documentation. {{UIMeta group=0 order=2}}"
  type        = string
  default     = "https://docs.example.com/modules/network-plan"
}

variable "credit_cost" {
  description = "Credits charged per successful deployment. {{UIMeta group=0 order=3}}"
  type        = number
  default     = 50
}

variable "require_credit_purchases" {
  description = "Whether only purchased credits may pay for it. {{UIMeta group=0 order=4}}"
  type        = bool
  default     = false
}

variable "public_access" {
  description = "Whether every user sees the module. {{UIMeta group=0 order=5}}"
  type        = bool
  default     = true
}

variable "module_dependency" {
  description = "Modules that must be deployed first, in order. {{UIMeta group=0 order=6}}"
  type        = list(string)
  default     = []
}

# Step 1: where.

variable "region" {
  description = "Region the network lives in. {{UIMeta group=1 order=1}}"
  type        = string
  default     = "europe-west1"

  validation {
    condition     = contains(["europe-west1", "us-central1", "asia-east1"], var.region)
    error_message = "The region must be europe-west1, us-central1 or asia-east1."
  }
}

variable "network_name" {
  description = "Name of the network. {{UIMeta group=1 order=2}}"
  type        = string
  default     = "main"
}

# Step 2: how it is laid out.

variable "cidr_block" {
  description = "Address range of the whole network. {{UIMeta group=2 order=1}}"
  type        = string
  default     = "10.10.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "The address range must be a CIDR block such as 10.10.0.0/16."
  }
}

variable "subnet_count" {
  description = "How many subnets to carve out (1 to 8). {{UIMeta group=2 order=2}}"
  type        = number
  default     = 3
  nullable    = false

  validation {
    condition     = var.subnet_count >= 1 && var.subnet_count <= 8
    error_message = "The subnet count must be between 1 and 8."
  }
}

variable "zones" {
  description = "Zones to spread the subnets over. {{UIMeta group=2 order=3}}"
  type        = list(string)
  default     = ["b", "c", "d"]
}

variable "enable_nat" {
  description = "Give private subnets a NAT gateway. {{UIMeta group=2 order=4}}"
  type        = bool
  default     = true
}
