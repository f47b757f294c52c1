package callback

import (
	"testing"

	"hotline/prompts"
)

func TestPromptsInManifest(t *testing.T) {
	have := map[string]bool{}
	for _, e := range prompts.Manifest() {
		have[e.Name] = true
	}
	for _, p := range Prompts {
		if !have[p] {
			t.Errorf("prompt %q is not in prompts/manifest.txt", p)
		}
	}
}
