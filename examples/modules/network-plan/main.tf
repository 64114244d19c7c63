terraform {
  required_version = ">= 1.3.0"
}

locals {
  subnets = {
    for index in range(var.subnet_count) :
    "${var.network_name}-${index}" => {
      cidr = cidrsubnet(var.cidr_block, 8, index)
      zone = "${var.region}-${var.zones[index % length(var.zones)]}"
    }
  }
  nat_gateways = var.enable_nat ? [for zone in distinct([for subnet in values(local.subnets) : subnet.zone]) : "${var.network_name}-nat-${zone}"] : []
}
