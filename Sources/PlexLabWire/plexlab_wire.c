/* PlexLabWire is header-only (include/plexlab_plugin.h); SwiftPM wants one source file per C target, and this
   one checks the ring header's layout, which the plugin and the recorder both rely on. */
#include <stddef.h>
#include "plexlab_plugin.h"

_Static_assert(offsetof(struct plexlab_ring_header, head) == 64, "head on its own cache line");
_Static_assert(offsetof(struct plexlab_ring_header, tail) == 128, "tail on its own cache line");
_Static_assert(sizeof(struct plexlab_ring_header) <= PLEXLAB_RING_HEADER_SIZE, "ring header fits its page");
