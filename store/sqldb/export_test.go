package sqldb

import "strings"

// MigrateOnlyThrough makes New apply the migrations up to and including
// the one whose name starts with prefix, until restore is called: a test
// builds a database as an older binary left it. It returns that
// migration's version.
func MigrateOnlyThrough(prefix string) (version int, restore func()) {
	all := migrations
	for i, m := range all {
		if strings.HasPrefix(m.name, prefix) {
			migrations = all[:i+1]
			return i + 1, func() { migrations = all }
		}
	}
	panic("no migration named " + prefix)
}
