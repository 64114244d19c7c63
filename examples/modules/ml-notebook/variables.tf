variable "module_description" {
  description = <<-EOT
    Card text. {{UIMeta group=0 order=1}}
  EOT
  type        = string
  default     = "Plans a machine-learning notebook next to a data bucket, with GPUs and idle shutdown."
}

variable "module_documentation" {
  description = "Documentation link. {{UIMeta group=0 order=2}}"
  type        = string
  default     = "https://docs.example.com/modules/ml-notebook"
}

variable "credit_cost" {
  description = "Credits per deployment. {{UIMeta group=0 order=3}}"
  type        = number
  default     = 150
}

variable "public_access" {
  description = "Visible to every user. {{UIMeta group=0 order=4}}"
  type        = bool
  default     = false
}

variable "module_dependency" {
  description = "Deploy these first, in this order. {{UIMeta group=0 order=5}}"
  type        = list(string)
  default     = ["network-plan", "data-bucket"]
}

variable "machine_type" {
  description = "Size of the notebook machine. {{UIMeta group=1 order=1}}"
  type        = string
  default     = "n2-standard-4"

  validation {
    condition     = contains(["n2-standard-4", "n2-standard-8", "a2-highgpu-1g"], var.machine_type)
    error_message = "The machine type must be n2-standard-4, n2-standard-8 or a2-highgpu-1g."
  }
}

variable "gpu_count" {
  description = "GPUs to attach (0 to 4). {{UIMeta group=1 order=2}}"
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.gpu_count >= 0 && var.gpu_count <= 4 && floor(var.gpu_count) == var.gpu_count
    error_message = "The GPU count must be a whole number between 0 and 4."
  }
}

variable "auto_shutdown" {
  description = "Stop the notebook when it is idle. {{UIMeta group=1 order=3}}"
  type        = bool
  default     = true
}

variable "notebook" {
  description = "Image, idle time and extra packages. {{UIMeta group=2 order=1}}"
  type = object({
    image                 = string
    idle_shutdown_minutes = optional(number, 60)
    packages              = optional(list(string), [])
  })
  default = {
    image    = "jupyter/scipy-notebook"
    packages = ["pandas", "scikit-learn"]
  }
}

variable "access_token" {
  description = "Token that opens the notebook; kept secret. {{UIMeta group=3 order=1}}"
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.access_token) >= 12
    error_message = "The access token must be at least 12 characters long."
  }
}
