// Package templates holds the built-in campaign templates, usable by name:
// `mailer send --template newsletter`. It must not import any other mailer
// package.
package templates

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.tmpl
var files embed.FS

// Lookup returns the source of the built-in template name ("newsletter").
func Lookup(name string) ([]byte, bool) {
	b, err := files.ReadFile(name + ".tmpl")
	return b, err == nil
}

// Names lists the built-in templates.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".tmpl"))
	}
	sort.Strings(names)
	return names
}
