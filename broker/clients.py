"""Where clients come from: the operator's ``[[client]]`` entries, or a Client ID Metadata Document.

Documents (when enabled) describe clients identified by an HTTPS URL (draft-ietf-oauth-client-id-
metadata-document, MCP authorization 2025-11-25). A registered client id always wins over a document.
"""

from __future__ import annotations

from broker.cimd import MetadataDocuments, is_metadata_document_url
from broker.core.policy import TrustIndex
from broker.settings import ClientConfig

__all__ = ["ClientRegistry"]


class ClientRegistry:
    """Looks clients up by id, fetching metadata documents through ``documents`` when given."""

    def __init__(self, trust: TrustIndex, documents: MetadataDocuments | None = None) -> None:
        self._trust = trust
        self._documents = documents

    def registered(self, client_id: str) -> ClientConfig | None:
        """A client from the configuration, or None."""
        return self._trust.clients.get(client_id)

    async def find(self, client_id: str) -> ClientConfig | None:
        """A registered client, or one described by its metadata document; None if neither.

        Raises:
            ClientMetadataError: ``client_id`` is a document URL but the document is not usable.
        """
        client = self._trust.clients.get(client_id)
        if client is not None:
            return client
        if self._documents is not None and is_metadata_document_url(client_id):
            return await self._documents.resolve(client_id)
        return None
