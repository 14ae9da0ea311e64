package python

import "strings"

// classifierSPDX maps the trove classifiers that name exactly one licence to its SPDX
// identifier. Classifiers that name a family ("BSD License", "Apache Software License") are
// kept as written.
func classifierSPDX(c string) (string, bool) {
	switch c {
	case "MIT License":
		return "MIT", true
	case "MIT No Attribution License (MIT-0)":
		return "MIT-0", true
	case "ISC License (ISCL)":
		return "ISC", true
	case "Mozilla Public License 1.1 (MPL 1.1)":
		return "MPL-1.1", true
	case "Mozilla Public License 2.0 (MPL 2.0)":
		return "MPL-2.0", true
	case "Python Software Foundation License":
		return "PSF-2.0", true
	case "The Unlicense (Unlicense)":
		return "Unlicense", true
	case "Boost Software License 1.0 (BSL-1.0)":
		return "BSL-1.0", true
	case "Eclipse Public License 1.0 (EPL-1.0)":
		return "EPL-1.0", true
	case "Eclipse Public License 2.0 (EPL-2.0)":
		return "EPL-2.0", true
	case "European Union Public Licence 1.2 (EUPL 1.2)":
		return "EUPL-1.2", true
	case "Universal Permissive License (UPL)":
		return "UPL-1.0", true
	case "zlib/libpng License":
		return "Zlib", true
	case "GNU General Public License v2 (GPLv2)":
		return "GPL-2.0-only", true
	case "GNU General Public License v2 or later (GPLv2+)":
		return "GPL-2.0-or-later", true
	case "GNU General Public License v3 (GPLv3)":
		return "GPL-3.0-only", true
	case "GNU General Public License v3 or later (GPLv3+)":
		return "GPL-3.0-or-later", true
	case "GNU Lesser General Public License v2 (LGPLv2)":
		return "LGPL-2.0-only", true
	case "GNU Lesser General Public License v2 or later (LGPLv2+)":
		return "LGPL-2.0-or-later", true
	case "GNU Lesser General Public License v3 (LGPLv3)":
		return "LGPL-3.0-only", true
	case "GNU Lesser General Public License v3 or later (LGPLv3+)":
		return "LGPL-3.0-or-later", true
	case "GNU Affero General Public License v3":
		return "AGPL-3.0-only", true
	case "GNU Affero General Public License v3 or later (AGPLv3+)":
		return "AGPL-3.0-or-later", true
	case "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication":
		return "CC0-1.0", true
	}
	return "", false
}

// classifierLicense reads a "License :: …" trove classifier: the SPDX identifier of the
// licence it names, or its last segment. Classifiers that name no licence ("License :: OSI
// Approved") report false.
func classifierLicense(c string) (string, bool) {
	rest, ok := strings.CutPrefix(c, "License ::")
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, "::")
	last := strings.TrimSpace(parts[len(parts)-1])
	if last == "" || last == "OSI Approved" {
		return "", false
	}
	if id, ok := classifierSPDX(last); ok {
		return id, true
	}
	return last, true
}
