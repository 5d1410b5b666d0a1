/* PlexLab's QEMU TCG plugin: see include/plexlab_plugin.h. */
