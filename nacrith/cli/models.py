"""`ncz models`: list, pull and locate the registered models (registered by nacrith.cli)."""

from __future__ import annotations

import click

from nacrith.models.llm import registry

__all__ = ["models_group"]


@click.group("models")
def models_group() -> None:
    """List, fetch and locate the models the `llm` codec can use."""


@models_group.command("list")
def list_models() -> None:
    """Show the registered models, their size and whether they are in the cache."""
    for name, spec in sorted(registry.MODELS.items()):
        mark = "cached " if registry.is_cached(name) else "missing"
        default = " (default)" if name == registry.DEFAULT_MODEL else ""
        click.echo(f"{name:<20} {mark}  {spec.size / 1e6:7.1f} MB  {spec.description}{default}")
    click.echo(f"cache: {registry.cache_dir()}")


@models_group.command("pull")
@click.argument("name", required=False, default=registry.DEFAULT_MODEL)
@click.option("-f", "--force", is_flag=True, help="Fetch again even when cached.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def pull_model(name: str, force: bool, quiet: bool) -> None:
    """Fetch model NAME (default: the default model) into the cache and verify its sha256."""
    path = registry.pull(name, force=force, quiet=quiet)
    click.echo(str(path))


@models_group.command("path")
@click.argument("name")
def model_path(name: str) -> None:
    """Print where model NAME lives (pulling it first if it is missing)."""
    click.echo(str(registry.resolve_model(name)))
