// Package engines links every store engine into a binary: importing it is
// what lets store.Open open SQLite files and PostgreSQL URLs. Each engine
// registers itself from its init; this package holds no code of its own.
package engines

import (
	_ "github.com/amigo-ami/amigo/store/postgres" // postgres://, postgresql://
	_ "github.com/amigo-ami/amigo/store/sqlite"   // sqlite:, file:, bare paths
)
