package httpserve

import (
	"fmt"
	"strings"
	"testing"
)

// TestParseRange: what each spelling of a Range a client may send (RFC 9110,
// section 14.1.1) asks of a 100-byte file: the ranges to send, 416, or the
// whole file.
func TestParseRange(t *testing.T) {
	many := "bytes=" + strings.Repeat("0-0,", maxRanges) + "1-1"
	const ignored, unsat = "200", "416"
	for _, tc := range []struct {
		name, in, want string // want: the ranges as start+length, or 200 or 416
	}{
		{"none", "", ignored},
		{"plain", "bytes=0-9", "0+10"},
		{"open", "bytes=90-", "90+10"},
		{"suffix", "bytes=-5", "95+5"},
		{"suffix-longer-than-file", "bytes=-500", "0+100"},
		{"last-past-end", "bytes=95-500", "95+5"},
		{"unit-case", "Bytes=0-9", "0+10"},
		{"unknown-unit", "items=0-5", ignored},
		{"no-equals", "bytes 0-5", ignored},
		{"suffix-zero", "bytes=-0", unsat},
		{"suffix-zeros", "bytes=-00", unsat},
		{"suffix-plus-zero", "bytes=-+0", unsat},
		{"plus-sign", "bytes=+1-5", unsat},
		{"leading-zeros", "bytes=0005-0009", "5+5"},
		{"space-inside", "bytes=0 - 5", unsat},
		{"space-around-commas", "bytes=0-5 , 7-8", "0+6 7+2"},
		{"space-after-equals", "bytes= 0-5", unsat},
		{"tab-after-equals", "bytes=\t0-5", unsat},
		{"space-after-comma", "bytes=,\t0-5", "0+6"},
		{"empty-elements", "bytes=,0-5,,", "0+6"},
		{"last-before-first", "bytes=5-4", unsat},
		{"past-end", "bytes=100-200", unsat},
		{"past-end-and-more", "bytes=100-200,0-4", "0+5"},
		{"suffix-zero-and-more", "bytes=-0,0-4", "0+5"},
		{"empty-set", "bytes=", ignored},
		{"only-commas", "bytes=, ,", ignored},
		{"huge", "bytes=0-99999999999999999999999", "0+100"},
		{"overlaps-past-size", "bytes=0-99,0-99", ignored},
		{"too-many", many, ignored},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, res := parseRange(tc.in, 100)
			var got string
			switch res {
			case rangeIgnored:
				got = ignored
			case rangeUnsatisfiable:
				got = unsat
			default:
				var parts []string
				for _, r := range rs {
					parts = append(parts, fmt.Sprintf("%d+%d", r.start, r.length))
				}
				got = strings.Join(parts, " ")
			}
			if got != tc.want {
				t.Errorf("Range %q: %s; want %s", tc.in, got, tc.want)
			}
		})
	}
	if _, res := parseRange("bytes=-5", 0); res != rangeIgnored {
		t.Errorf("a Range on an empty file gives %v; want it ignored", res)
	}
}
