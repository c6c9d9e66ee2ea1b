package objects

import "github.com/amigo-ami/amigo/axdr"

func isStruct(d axdr.Data, n int) bool { return d.Tag == axdr.TagStructure && len(d.Items) == n }

// sameType reports whether v may replace cur: same tag, unless cur is
// null (not yet typed).
func sameType(cur, v axdr.Data) bool { return cur.Tag == axdr.TagNull || cur.Tag == v.Tag }
