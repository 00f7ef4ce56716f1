"""Where a benchmark run was measured, as one line (shared by the results tables)."""


def machine_line(machine):
    """One line naming where a run was measured, from results.json's `machine`."""
    if not machine:
        return "machine not recorded"
    where = f"{machine.get('cpu') or 'unknown CPU'} ({machine.get('cpu_cores')} cores)"
    if machine.get("accelerators"):
        where += ", " + ", ".join(machine["accelerators"])
    versions = [f"{name} {machine[key]}" for name, key in (
        ("Python", "python"), ("TensorFlow", "tensorflow"), ("Keras", "keras"),
        ("JAX", "jax")) if machine.get(key)]
    backend = f" ({machine['backend']} backend)" if machine.get("backend") else ""
    return f"{where}; {', '.join(versions)}{backend}"
