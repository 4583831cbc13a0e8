"""The use cases: what `kube6 check`, `kube6 up`/`reset` and `kube6 verify` do, as functions.

The CLI parses the command line, calls one of these, prints what it returns and maps errors to
exit codes; the use cases never print. What a use case needs from the world (executors, a
cluster client, DNS and TLS from this machine, probe pods) comes in as an argument with the real
thing as default, so tests hand in their own instead of patching modules.
"""
