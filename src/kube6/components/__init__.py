"""One home per component: its constants, renderers, `up`/`reset` steps, artifact hosts and
verify object checks (`kube6.components.base.Component`).

`kube6.components.registry` assembles them: `RENDERERS`/`render_all` for `kube6 render`,
`UP_STEPS` and `RESET_STEPS` for `kube6 up`/`reset`, the artifact hosts for `kube6 check`, the
object checks for `kube6 verify`. Import the registry, not this package, for those; importing a
single component stays cheap.
"""
