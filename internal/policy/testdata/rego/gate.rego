# Release gate for production images, written in Rego v1.
package stella.policy

# Critical findings whose code was seen running are never shipped.
deny contains msg if {
	f := input.finding
	f.severity == "Critical"
	f.reachability == "runtime"
	msg := sprintf("%s: critical %s observed at runtime in %s", [f.id, concat(",", f.vulnerabilities), f.package])
}

# Known-exploited vulnerabilities block production.
deny contains msg if {
	input.finding.environment == "prod"
	"kev" in input.finding.tags
	msg := sprintf("%s: known exploited, not allowed in prod", [input.finding.id])
}

# Strong copyleft needs legal review but does not block.
warn contains msg if {
	some l in input.finding.licenses
	startswith(l, "AGPL-")
	msg := sprintf("%s: %s licence needs legal review", [input.finding.id, l])
}

# High scores deserve a look even when no rule blocks them.
warn contains msg if {
	input.finding.score >= 30
	not vex_not_affected
	msg := sprintf("%s: score %v", [input.finding.id, input.finding.score])
}

vex_not_affected if {
	some v in input.finding.vex
	v.status == "not_affected"
}
