"""policy-qa: grounded question answering over Chinese education policy text.

Data flow: parsing → chunking → embedding + keywords → index → retrieval → answering.
"""

__version__ = "0.1.0"
