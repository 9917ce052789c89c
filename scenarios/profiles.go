package scenarios

import (
	"embed"
	"fmt"
	"os"
	"sort"
	"strings"
)

//go:embed profiles/*.yaml
var profileFS embed.FS

// Profiles lists the built-in profile names.
func Profiles() []string {
	entries, _ := profileFS.ReadDir("profiles")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Profile returns the built-in profile called name.
func Profile(name string) (*File, error) {
	data, err := profileFS.ReadFile("profiles/" + name + ".yaml")
	if err != nil {
		return nil, &ValidationError{Field: "--scenario", Msg: fmt.Sprintf("unknown profile %q; built-in profiles are %s, or give a YAML file", name, strings.Join(Profiles(), ", "))}
	}
	return Parse("profile:"+name, data)
}

// Resolve loads a scenario reference: a path to a YAML file when one exists
// there (or the name ends in .yaml/.yml), else a built-in profile name.
func Resolve(ref string) (*File, error) {
	if _, err := os.Stat(ref); err == nil || strings.HasSuffix(ref, ".yaml") || strings.HasSuffix(ref, ".yml") || strings.ContainsRune(ref, os.PathSeparator) {
		return Load(ref)
	}
	return Profile(ref)
}
