package authority

import (
	"slices"
	"strings"
)

// Scopes of the platform. Every HTTP route declares one (internal/api's route table).
const (
	ScopeAPI              = "stella.api"
	ScopeScansEnqueue     = "scanner.scans.enqueue"
	ScopeScansRead        = "scanner.scans.read"
	ScopeReports          = "scanner.reports"
	ScopeRuntimeIngest    = "scanner.runtime.ingest"
	ScopeConcelierTrigger = "concelier.jobs.trigger"
	ScopeConcelierRead    = "concelier.read"
	ScopePolicyRead       = "policy.read"
	ScopePolicyWrite      = "policy.write"
	ScopeSignerSign       = "signer.sign"
	ScopeAttestorWrite    = "attestor.write"
	ScopeNotifyAdmin      = "notify.admin"
	// ScopeAdmin mints offline tokens and manages the Authority through the API.
	ScopeAdmin = "authority.admin"
)

// AllScopes lists every scope, sorted.
func AllScopes() []string {
	s := []string{ScopeAPI, ScopeScansEnqueue, ScopeScansRead, ScopeReports, ScopeRuntimeIngest,
		ScopeConcelierTrigger, ScopeConcelierRead, ScopePolicyRead, ScopePolicyWrite, ScopeSignerSign,
		ScopeAttestorWrite, ScopeNotifyAdmin, ScopeAdmin}
	slices.Sort(s)
	return s
}

// KnownScope reports whether s is a scope of the platform.
func KnownScope(s string) bool {
	_, ok := slices.BinarySearch(AllScopes(), s)
	return ok
}

// Roles maps the user roles to their scopes. A user's scopes are the union over its roles.
func Roles() map[string][]string {
	viewer := []string{ScopeAPI, ScopeScansRead, ScopePolicyRead, ScopeConcelierRead}
	developer := append(slices.Clone(viewer), ScopeScansEnqueue, ScopeReports)
	operator := append(slices.Clone(developer), ScopeConcelierTrigger, ScopePolicyWrite, ScopeRuntimeIngest,
		ScopeSignerSign, ScopeAttestorWrite, ScopeNotifyAdmin)
	m := map[string][]string{
		"viewer":    viewer,
		"developer": developer,
		"operator":  operator,
		"admin":     AllScopes(),
	}
	for k := range m {
		slices.Sort(m[k])
	}
	return m
}

// RoleScopes returns the sorted union of roles' scopes; unknown roles add nothing.
func RoleScopes(roles []string) []string {
	all := Roles()
	var out []string
	for _, r := range roles {
		out = append(out, all[r]...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ParseScope splits an OAuth2 scope parameter (space-delimited, RFC 6749 §3.3) into a sorted
// set.
func ParseScope(s string) []string {
	f := strings.Fields(s)
	slices.Sort(f)
	return slices.Compact(f)
}

// HasScope reports whether granted (sorted) contains want.
func HasScope(granted []string, want string) bool {
	_, ok := slices.BinarySearch(granted, want)
	return ok
}

// intersect returns the sorted elements of a that are also in b (both sorted).
func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if HasScope(b, s) {
			out = append(out, s)
		}
	}
	return out
}
