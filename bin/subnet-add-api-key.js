#!/usr/bin/env node
// Entry point of `subnet-add-api-key` (SPEC §3).
import '../dist/polyfill.js'
import { main } from '../dist/cli/add-api-key.js'

main(process.argv)
