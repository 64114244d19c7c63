output "network_name" {
  description = "Name of the planned network."
  value       = var.network_name
}

output "subnets" {
  description = "Subnets by name, with their range and zone."
  value       = local.subnets
}

output "nat_gateways" {
  description = "NAT gateways to create, one per zone in use."
  value       = local.nat_gateways
}
