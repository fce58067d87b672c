package patternset

import "testing"

func TestVersionNumber(t *testing.T) {
	tests := []struct {
		name string
		n    uint64
		ok   bool
	}{
		{"v1", 1, true},
		{"v42", 42, true},
		{"v4294967295", 4294967295, true},
		{"v4294967296", 0, false}, // beyond uint32, like version_id
		{"v", 0, false},
		{"V3", 0, false},
		{"v-1", 0, false},
		{"v1a", 0, false},
		{"", 0, false},
		{"v00000000000000000001", 0, false}, // longer than version_name's 20
	}
	for _, tt := range tests {
		n, ok := VersionNumber(tt.name)
		if ok != tt.ok || (ok && n != tt.n) {
			t.Errorf("VersionNumber(%q) = %d, %v; want %d, %v", tt.name, n, ok, tt.n, tt.ok)
		}
	}
}
