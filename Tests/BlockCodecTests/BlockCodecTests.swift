// BlockCodecTests: tests for BlockCodec.
