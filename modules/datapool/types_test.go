package datapool

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/ocrpool/ocrpool/modules/platform/apierr"
)

// TestBatchResultJSON: the hand-written encoding of a batch answer is
// byte for byte what encoding/json writes for its items.
func TestBatchResultJSON(t *testing.T) {
	tests := []struct {
		name    string
		results []ItemResult
	}{
		{"nil", nil},
		{"empty", []ItemResult{}},
		{"stored", []ItemResult{{Index: 0, Status: http.StatusCreated, ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}}},
		{"mixed", []ItemResult{
			{Index: 0, Status: http.StatusCreated, ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},
			{Index: 1, Status: http.StatusOK, ID: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c", Duplicate: true},
			{Index: 2, Status: http.StatusBadRequest, Error: apierr.Field("corrected_fields.date", "month 13 does not exist")},
			{Index: 3, Status: http.StatusConflict, Error: &apierr.Error{Code: apierr.Conflict, Field: "source_correction_id", Message: `"x" <stored> & different`}},
			{Index: 4, Status: http.StatusServiceUnavailable, Error: apierr.New(apierr.Unavailable, "retry")},
			{Index: 1000, Status: http.StatusCreated, ID: `odd"id<&>`},
			{Index: 5, Status: http.StatusCreated},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(BatchResult{Results: tt.results})
			if err != nil {
				t.Fatal(err)
			}
			// What encoding/json writes without BatchResult.MarshalJSON.
			want, err := json.Marshal(struct {
				Results []ItemResult `json:"results"`
			}{tt.results})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			var back BatchResult
			if err := json.Unmarshal(got, &back); err != nil || len(back.Results) != len(tt.results) {
				t.Errorf("decoding it back: %d results, %v", len(back.Results), err)
			}
		})
	}
}
