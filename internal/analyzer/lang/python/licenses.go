package python

import "strings"

// classifierSPDX maps the trove classifiers that name exactly one licence to its SPDX
// identifier. Classifiers that name a family ("BSD License", "Apache Software License") are
// kept as written.
var classifierSPDX = map[string]string{
	"MIT License":                                             "MIT",
	"MIT No Attribution License (MIT-0)":                      "MIT-0",
	"ISC License (ISCL)":                                      "ISC",
	"Mozilla Public License 1.1 (MPL 1.1)":                    "MPL-1.1",
	"Mozilla Public License 2.0 (MPL 2.0)":                    "MPL-2.0",
	"Python Software Foundation License":                      "PSF-2.0",
	"The Unlicense (Unlicense)":                               "Unlicense",
	"Boost Software License 1.0 (BSL-1.0)":                    "BSL-1.0",
	"Eclipse Public License 1.0 (EPL-1.0)":                    "EPL-1.0",
	"Eclipse Public License 2.0 (EPL-2.0)":                    "EPL-2.0",
	"European Union Public Licence 1.2 (EUPL 1.2)":            "EUPL-1.2",
	"Universal Permissive License (UPL)":                      "UPL-1.0",
	"zlib/libpng License":                                     "Zlib",
	"GNU General Public License v2 (GPLv2)":                   "GPL-2.0-only",
	"GNU General Public License v2 or later (GPLv2+)":         "GPL-2.0-or-later",
	"GNU General Public License v3 (GPLv3)":                   "GPL-3.0-only",
	"GNU General Public License v3 or later (GPLv3+)":         "GPL-3.0-or-later",
	"GNU Lesser General Public License v2 (LGPLv2)":           "LGPL-2.0-only",
	"GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
	"GNU Lesser General Public License v3 (LGPLv3)":           "LGPL-3.0-only",
	"GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
	"GNU Affero General Public License v3":                    "AGPL-3.0-only",
	"GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
	"CC0 1.0 Universal (CC0 1.0) Public Domain Dedication":    "CC0-1.0",
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
	if id, ok := classifierSPDX[last]; ok {
		return id, true
	}
	return last, true
}
