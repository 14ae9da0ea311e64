package vex

import "strings"

// openVEXJustification accepts a value already in the OpenVEX vocabulary (OpenVEX statements and
// CSAF flag labels use the same five words).
func openVEXJustification(raw string) Justification {
	switch j := Justification(strings.TrimSpace(raw)); j {
	case JustificationComponentNotPresent, JustificationVulnerableCodeNotPresent,
		JustificationVulnerableCodeNotInExecutePath,
		JustificationVulnerableCodeCannotBeControlledByAdversary,
		JustificationInlineMitigationsAlreadyExist:
		return j
	}
	return ""
}

// cycloneDXJustification maps a CycloneDX analysis justification to OpenVEX where the meaning is
// the same. The others stay unmapped rather than be stretched: requires_configuration,
// requires_dependency and requires_environment describe conditions outside the product that
// OpenVEX has no word for, and protected_at_runtime, protected_at_perimeter and
// protected_by_mitigating_control are controls around the product, whereas OpenVEX's
// inline_mitigations_already_exist means protections built into it. protected_by_compiler is a
// build-time protection inside the product, so it is inline.
func cycloneDXJustification(raw string) Justification {
	switch strings.TrimSpace(raw) {
	case "code_not_present":
		return JustificationVulnerableCodeNotPresent
	case "code_not_reachable":
		return JustificationVulnerableCodeNotInExecutePath
	case "protected_by_compiler":
		return JustificationInlineMitigationsAlreadyExist
	}
	return ""
}

// cycloneDXStatus maps a CycloneDX analysis state. ok is false for an unknown state.
func cycloneDXStatus(state string) (s Status, ok bool) {
	switch state {
	case "resolved", "resolved_with_pedigree":
		return StatusFixed, true
	case "exploitable":
		return StatusAffected, true
	case "in_triage":
		return StatusUnderInvestigation, true
	case "false_positive", "not_affected":
		return StatusNotAffected, true
	}
	return "", false
}

// openVEXStatus validates an OpenVEX status.
func openVEXStatus(s string) (Status, bool) {
	switch st := Status(s); st {
	case StatusNotAffected, StatusAffected, StatusFixed, StatusUnderInvestigation:
		return st, true
	}
	return "", false
}
