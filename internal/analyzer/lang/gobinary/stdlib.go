package gobinary

import "strings"

// StdlibVersion turns a toolchain version as the linker records it ("go1.22.3",
// "go1.21rc2 X:boringcrypto", "go1.20.10 (Red Hat 1.20.10-1.el9)") into the semver form of the
// Go vulnerability database ("v1.22.3", "v1.21.0-rc.2", "v1.20.10"). It reports false for
// development toolchains and anything it cannot read.
func StdlibVersion(goVersion string) (string, bool) {
	v, ok := strings.CutPrefix(strings.TrimSpace(goVersion), "go")
	if !ok {
		return "", false
	}
	// The release is the leading run of digits and dots, optionally followed by a pre-release
	// tag ("rc2", "beta1"); anything after it is an experiment or vendor suffix.
	nums, rest := leading(v, func(c byte) bool { return c >= '0' && c <= '9' || c == '.' })
	parts := strings.Split(nums, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return "", false
	}
	for _, p := range parts {
		if p == "" || (len(p) > 1 && p[0] == '0') {
			return "", false
		}
	}
	if len(parts) == 2 {
		parts = append(parts, "0")
	}
	out := "v" + strings.Join(parts, ".")
	for _, tag := range []string{"rc", "beta", "alpha"} {
		if n, ok := strings.CutPrefix(rest, tag); ok {
			num, _ := leading(n, func(c byte) bool { return c >= '0' && c <= '9' })
			if num == "" {
				return "", false
			}
			return out + "-" + tag + "." + num, true
		}
	}
	return out, true
}

// leading splits s after its longest prefix of bytes accepted by ok.
func leading(s string, ok func(byte) bool) (prefix, rest string) {
	i := 0
	for i < len(s) && ok(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
