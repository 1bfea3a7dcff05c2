#!/usr/bin/env node
// Entry point of `subnet-bootnode` (SPEC §4). The polyfill must load before anything from libp2p.
import '../dist/polyfill.js'
import { main } from '../dist/cli/bootnode.js'

main(process.argv)
