"""Partner revenue: true revenue of SPEND rows, partner shares, reports, payouts and scheduled digests."""
