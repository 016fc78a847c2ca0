"""initial schema: meta catalog and every registry layer

Revision ID: 847778b861ab
Revises: 
Create Date: 2026-11-28 00:18:28.052753
"""
from typing import Sequence, Union

from alembic import op
import geoalchemy2
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from geoalchemy2 import Geometry

revision: str = '847778b861ab'
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute('CREATE SCHEMA IF NOT EXISTS "admin"')
    op.execute('CREATE SCHEMA IF NOT EXISTS "base"')
    op.execute('CREATE SCHEMA IF NOT EXISTS "citizen"')
    op.execute('CREATE SCHEMA IF NOT EXISTS "emergency"')
    op.execute('CREATE SCHEMA IF NOT EXISTS "housing"')
    op.execute('CREATE SCHEMA IF NOT EXISTS "infra"')
    op.execute('CREATE SCHEMA IF NOT EXISTS "iot"')
    op.execute('CREATE SCHEMA IF NOT EXISTS "kpi"')
    op.execute('CREATE SCHEMA IF NOT EXISTS "land"')
    op.execute('CREATE SCHEMA IF NOT EXISTS "meta"')
    op.execute('CREATE SCHEMA IF NOT EXISTS "planning"')
    op.create_geospatial_table('communes',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('code', sa.Text(), nullable=False, comment='Commune code'),
    sa.Column('name', sa.Text(), nullable=False, comment='Name'),
    sa.Column('type', sa.Text(), nullable=False, comment='Unit type'),
    sa.Column('province_code', sa.Text(), nullable=False, comment='Province code'),
    sa.Column('area_km2', sa.Double(), nullable=True, comment='Area (km²)'),
    sa.Column('population', sa.Integer(), nullable=True, comment='Population'),
    sa.Column('approximate', sa.Boolean(), nullable=True, comment='Approximate boundary'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='admin'
    )
    op.create_geospatial_index('communes_geom_gist', 'communes', ['geom'], unique=False, schema='admin', postgresql_using='gist', postgresql_ops={})
    op.create_index('communes_key', 'communes', ['code'], unique=True, schema='admin')
    op.create_geospatial_table('provinces',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('code', sa.Text(), nullable=False, comment='Province code'),
    sa.Column('name', sa.Text(), nullable=False, comment='Name'),
    sa.Column('admin_center', sa.Text(), nullable=True, comment='Administrative centre'),
    sa.Column('area_km2', sa.Double(), nullable=True, comment='Area (km²)'),
    sa.Column('population', sa.Integer(), nullable=True, comment='Population'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='admin'
    )
    op.create_geospatial_index('provinces_geom_gist', 'provinces', ['geom'], unique=False, schema='admin', postgresql_using='gist', postgresql_ops={})
    op.create_index('provinces_key', 'provinces', ['code'], unique=True, schema='admin')
    op.create_geospatial_table('places',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('place_id', sa.Text(), nullable=False, comment='Id'),
    sa.Column('name', sa.Text(), nullable=False, comment='Name'),
    sa.Column('kind', sa.Text(), nullable=False, comment='Kind'),
    sa.Column('population', sa.Integer(), nullable=True, comment='Population'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='base'
    )
    op.create_geospatial_index('places_geom_gist', 'places', ['geom'], unique=False, schema='base', postgresql_using='gist', postgresql_ops={})
    op.create_index('places_key', 'places', ['place_id'], unique=True, schema='base')
    op.create_geospatial_table('roads',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('road_id', sa.Text(), nullable=False, comment='Road id'),
    sa.Column('name', sa.Text(), nullable=True, comment='Name'),
    sa.Column('ref', sa.Text(), nullable=True, comment='Reference'),
    sa.Column('road_class', sa.Text(), nullable=False, comment='Road class'),
    sa.Column('lanes', sa.Integer(), nullable=True, comment='Lanes'),
    sa.Column('surface', sa.Text(), nullable=True, comment='Surface'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTILINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='base'
    )
    op.create_geospatial_index('roads_geom_gist', 'roads', ['geom'], unique=False, schema='base', postgresql_using='gist', postgresql_ops={})
    op.create_index('roads_key', 'roads', ['road_id'], unique=True, schema='base')
    op.create_geospatial_table('water_areas',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('water_id', sa.Text(), nullable=False, comment='Id'),
    sa.Column('name', sa.Text(), nullable=True, comment='Name'),
    sa.Column('kind', sa.Text(), nullable=False, comment='Kind'),
    sa.Column('capacity_mcm', sa.Double(), nullable=True, comment='Capacity (million m³)'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='base'
    )
    op.create_geospatial_index('water_areas_geom_gist', 'water_areas', ['geom'], unique=False, schema='base', postgresql_using='gist', postgresql_ops={})
    op.create_index('water_areas_key', 'water_areas', ['water_id'], unique=True, schema='base')
    op.create_geospatial_table('waterways',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('waterway_id', sa.Text(), nullable=False, comment='Id'),
    sa.Column('name', sa.Text(), nullable=True, comment='Name'),
    sa.Column('kind', sa.Text(), nullable=False, comment='Kind'),
    sa.Column('width_m', sa.Double(), nullable=True, comment='Width (m)'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTILINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='base'
    )
    op.create_geospatial_index('waterways_geom_gist', 'waterways', ['geom'], unique=False, schema='base', postgresql_using='gist', postgresql_ops={})
    op.create_index('waterways_key', 'waterways', ['waterway_id'], unique=True, schema='base')
    op.create_geospatial_table('reports',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('report_code', sa.Text(), nullable=False, comment='Report code'),
    sa.Column('category', sa.Text(), nullable=False, comment='Category'),
    sa.Column('content', sa.Text(), nullable=False, comment='Text'),
    sa.Column('status', sa.Text(), nullable=False, comment='Status'),
    sa.Column('assigned_unit', sa.Text(), nullable=True, comment='Assigned unit'),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False, comment='Reported at'),
    sa.Column('commune_code', sa.Text(), nullable=True, comment='Commune code'),
    sa.Column('reporter_name', sa.Text(), nullable=True, comment='Reporter name'),
    sa.Column('reporter_phone', sa.Text(), nullable=True, comment='Reporter phone'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='citizen'
    )
    op.create_geospatial_index('reports_geom_gist', 'reports', ['geom'], unique=False, schema='citizen', postgresql_using='gist', postgresql_ops={})
    op.create_index('reports_key', 'reports', ['report_code'], unique=True, schema='citizen')
    op.create_index('reports_reported_at', 'reports', ['reported_at'], unique=False, schema='citizen')
    op.create_geospatial_table('flood_zones',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('zone_code', sa.Text(), nullable=False, comment='Zone code'),
    sa.Column('scenario', sa.Text(), nullable=False, comment='Scenario'),
    sa.Column('return_period_years', sa.Integer(), nullable=True, comment='Return period (years)'),
    sa.Column('max_depth_m', sa.Double(), nullable=True, comment='Max depth (m)'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='emergency'
    )
    op.create_geospatial_index('flood_zones_geom_gist', 'flood_zones', ['geom'], unique=False, schema='emergency', postgresql_using='gist', postgresql_ops={})
    op.create_index('flood_zones_key', 'flood_zones', ['zone_code'], unique=True, schema='emergency')
    op.create_geospatial_table('incidents',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('incident_code', sa.Text(), nullable=False, comment='Incident code'),
    sa.Column('kind', sa.Text(), nullable=False, comment='Kind'),
    sa.Column('title', sa.Text(), nullable=False, comment='Title'),
    sa.Column('status', sa.Text(), nullable=False, comment='Status'),
    sa.Column('severity', sa.Integer(), nullable=True, comment='Severity (1-5)'),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False, comment='Reported at'),
    sa.Column('commune_code', sa.Text(), nullable=True, comment='Commune code'),
    sa.Column('casualties', sa.Integer(), nullable=True, comment='Casualties'),
    sa.Column('reporter_phone', sa.Text(), nullable=True, comment='Reporter phone'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='emergency'
    )
    op.create_geospatial_index('incidents_geom_gist', 'incidents', ['geom'], unique=False, schema='emergency', postgresql_using='gist', postgresql_ops={})
    op.create_index('incidents_key', 'incidents', ['incident_code'], unique=True, schema='emergency')
    op.create_index('incidents_reported_at', 'incidents', ['reported_at'], unique=False, schema='emergency')
    op.create_geospatial_table('shelters',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('shelter_id', sa.Text(), nullable=False, comment='Shelter id'),
    sa.Column('name', sa.Text(), nullable=False, comment='Name'),
    sa.Column('capacity_people', sa.Integer(), nullable=True, comment='Capacity (people)'),
    sa.Column('commune_code', sa.Text(), nullable=True, comment='Commune code'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='emergency'
    )
    op.create_geospatial_index('shelters_geom_gist', 'shelters', ['geom'], unique=False, schema='emergency', postgresql_using='gist', postgresql_ops={})
    op.create_index('shelters_key', 'shelters', ['shelter_id'], unique=True, schema='emergency')
    op.create_geospatial_table('houses',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('house_id', sa.Text(), nullable=False, comment='House id'),
    sa.Column('commune_code', sa.Text(), nullable=False, comment='Commune code'),
    sa.Column('address', sa.Text(), nullable=True, comment='Address'),
    sa.Column('household_head', sa.Text(), nullable=True, comment='Household head'),
    sa.Column('household_size', sa.Integer(), nullable=True, comment='Household members'),
    sa.Column('is_poor', sa.Boolean(), nullable=True, comment='Poor household'),
    sa.Column('is_near_poor', sa.Boolean(), nullable=True, comment='Near-poor household'),
    sa.Column('is_temporary', sa.Boolean(), nullable=True, comment='Temporary house'),
    sa.Column('floors', sa.Integer(), nullable=True, comment='Floors'),
    sa.Column('height_m', sa.Double(), nullable=True, comment='Height (m)'),
    sa.Column('year_built', sa.Integer(), nullable=True, comment='Year built'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='housing'
    )
    op.create_geospatial_index('houses_geom_gist', 'houses', ['geom'], unique=False, schema='housing', postgresql_using='gist', postgresql_ops={})
    op.create_index('houses_key', 'houses', ['house_id'], unique=True, schema='housing')
    op.create_geospatial_table('drainage_lines',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('drain_id', sa.Text(), nullable=False, comment='Drain id'),
    sa.Column('kind', sa.Text(), nullable=True, comment='Kind'),
    sa.Column('diameter_mm', sa.Integer(), nullable=True, comment='Size (mm)'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTILINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='infra'
    )
    op.create_geospatial_index('drainage_lines_geom_gist', 'drainage_lines', ['geom'], unique=False, schema='infra', postgresql_using='gist', postgresql_ops={})
    op.create_index('drainage_lines_key', 'drainage_lines', ['drain_id'], unique=True, schema='infra')
    op.create_geospatial_table('drainage_outlets',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('outlet_id', sa.Text(), nullable=False, comment='Outlet id'),
    sa.Column('receiving_water', sa.Text(), nullable=True, comment='Receiving water'),
    sa.Column('has_gate', sa.Boolean(), nullable=True, comment='Has a flap gate'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='infra'
    )
    op.create_geospatial_index('drainage_outlets_geom_gist', 'drainage_outlets', ['geom'], unique=False, schema='infra', postgresql_using='gist', postgresql_ops={})
    op.create_index('drainage_outlets_key', 'drainage_outlets', ['outlet_id'], unique=True, schema='infra')
    op.create_geospatial_table('green_areas',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('green_id', sa.Text(), nullable=False, comment='Id'),
    sa.Column('name', sa.Text(), nullable=True, comment='Name'),
    sa.Column('kind', sa.Text(), nullable=True, comment='Kind'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='infra'
    )
    op.create_geospatial_index('green_areas_geom_gist', 'green_areas', ['geom'], unique=False, schema='infra', postgresql_using='gist', postgresql_ops={})
    op.create_index('green_areas_key', 'green_areas', ['green_id'], unique=True, schema='infra')
    op.create_geospatial_table('health_facilities',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('facility_id', sa.Text(), nullable=False, comment='Facility id'),
    sa.Column('name', sa.Text(), nullable=False, comment='Name'),
    sa.Column('kind', sa.Text(), nullable=False, comment='Kind'),
    sa.Column('commune_code', sa.Text(), nullable=False, comment='Commune code'),
    sa.Column('beds', sa.Integer(), nullable=True, comment='Beds'),
    sa.Column('doctors', sa.Integer(), nullable=True, comment='Doctors'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='infra'
    )
    op.create_geospatial_index('health_facilities_geom_gist', 'health_facilities', ['geom'], unique=False, schema='infra', postgresql_using='gist', postgresql_ops={})
    op.create_index('health_facilities_key', 'health_facilities', ['facility_id'], unique=True, schema='infra')
    op.create_geospatial_table('power_lines',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('line_id', sa.Text(), nullable=False, comment='Line id'),
    sa.Column('name', sa.Text(), nullable=True, comment='Name'),
    sa.Column('voltage_kv', sa.Double(), nullable=False, comment='Voltage (kV)'),
    sa.Column('operator', sa.Text(), nullable=True, comment='Operator'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTILINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='infra'
    )
    op.create_geospatial_index('power_lines_geom_gist', 'power_lines', ['geom'], unique=False, schema='infra', postgresql_using='gist', postgresql_ops={})
    op.create_index('power_lines_key', 'power_lines', ['line_id'], unique=True, schema='infra')
    op.create_geospatial_table('public_stations',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('station_id', sa.Text(), nullable=False, comment='Station id'),
    sa.Column('name', sa.Text(), nullable=False, comment='Name'),
    sa.Column('kind', sa.Text(), nullable=False, comment='Kind'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='infra'
    )
    op.create_geospatial_index('public_stations_geom_gist', 'public_stations', ['geom'], unique=False, schema='infra', postgresql_using='gist', postgresql_ops={})
    op.create_index('public_stations_key', 'public_stations', ['station_id'], unique=True, schema='infra')
    op.create_geospatial_table('schools',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('school_id', sa.Text(), nullable=False, comment='School id'),
    sa.Column('name', sa.Text(), nullable=False, comment='Name'),
    sa.Column('level', sa.Text(), nullable=False, comment='Level'),
    sa.Column('commune_code', sa.Text(), nullable=False, comment='Commune code'),
    sa.Column('pupils', sa.Integer(), nullable=True, comment='Pupils'),
    sa.Column('teachers', sa.Integer(), nullable=True, comment='Teachers'),
    sa.Column('classrooms', sa.Integer(), nullable=True, comment='Classrooms'),
    sa.Column('is_public', sa.Boolean(), nullable=True, comment='Public school'),
    sa.Column('shelter_capacity', sa.Integer(), nullable=True, comment='Shelter capacity (people)'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='infra'
    )
    op.create_geospatial_index('schools_geom_gist', 'schools', ['geom'], unique=False, schema='infra', postgresql_using='gist', postgresql_ops={})
    op.create_index('schools_key', 'schools', ['school_id'], unique=True, schema='infra')
    op.create_geospatial_table('substations',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('substation_id', sa.Text(), nullable=False, comment='Substation id'),
    sa.Column('name', sa.Text(), nullable=False, comment='Name'),
    sa.Column('voltage_kv', sa.Double(), nullable=False, comment='Voltage (kV)'),
    sa.Column('capacity_mva', sa.Double(), nullable=True, comment='Capacity (MVA)'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='infra'
    )
    op.create_geospatial_index('substations_geom_gist', 'substations', ['geom'], unique=False, schema='infra', postgresql_using='gist', postgresql_ops={})
    op.create_index('substations_key', 'substations', ['substation_id'], unique=True, schema='infra')
    op.create_geospatial_table('trees',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('tree_id', sa.Text(), nullable=False, comment='Tree id'),
    sa.Column('species', sa.Text(), nullable=True, comment='Species'),
    sa.Column('height_m', sa.Double(), nullable=True, comment='Height (m)'),
    sa.Column('planted_year', sa.Integer(), nullable=True, comment='Year planted'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='infra'
    )
    op.create_geospatial_index('trees_geom_gist', 'trees', ['geom'], unique=False, schema='infra', postgresql_using='gist', postgresql_ops={})
    op.create_index('trees_key', 'trees', ['tree_id'], unique=True, schema='infra')
    op.create_geospatial_table('water_pipes',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('pipe_id', sa.Text(), nullable=False, comment='Pipe id'),
    sa.Column('diameter_mm', sa.Integer(), nullable=True, comment='Diameter (mm)'),
    sa.Column('material', sa.Text(), nullable=True, comment='Material'),
    sa.Column('operator', sa.Text(), nullable=True, comment='Operator'),
    sa.Column('year_built', sa.Integer(), nullable=True, comment='Year built'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTILINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='infra'
    )
    op.create_geospatial_index('water_pipes_geom_gist', 'water_pipes', ['geom'], unique=False, schema='infra', postgresql_using='gist', postgresql_ops={})
    op.create_index('water_pipes_key', 'water_pipes', ['pipe_id'], unique=True, schema='infra')
    op.create_table('observations',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('station_code', sa.Text(), nullable=False, comment='Station code'),
    sa.Column('parameter', sa.Text(), nullable=False, comment='Parameter'),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False, comment='Observed at'),
    sa.Column('value', sa.Double(), nullable=False, comment='Value'),
    sa.Column('unit', sa.Text(), nullable=True, comment='Unit'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('fid'),
    schema='iot'
    )
    op.create_index('observations_key', 'observations', ['station_code', 'parameter', 'observed_at'], unique=True, schema='iot')
    op.create_index('observations_observed_at', 'observations', ['observed_at'], unique=False, schema='iot')
    op.create_geospatial_table('stations',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('station_code', sa.Text(), nullable=False, comment='Station code'),
    sa.Column('name', sa.Text(), nullable=False, comment='Name'),
    sa.Column('kind', sa.Text(), nullable=False, comment='Station kind'),
    sa.Column('commune_code', sa.Text(), nullable=True, comment='Commune code'),
    sa.Column('operator', sa.Text(), nullable=True, comment='Operator'),
    sa.Column('alert_1', sa.Double(), nullable=True, comment='Alert level 1'),
    sa.Column('alert_2', sa.Double(), nullable=True, comment='Alert level 2'),
    sa.Column('alert_3', sa.Double(), nullable=True, comment='Alert level 3'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='iot'
    )
    op.create_geospatial_index('stations_geom_gist', 'stations', ['geom'], unique=False, schema='iot', postgresql_using='gist', postgresql_ops={})
    op.create_index('stations_key', 'stations', ['station_code'], unique=True, schema='iot')
    op.create_table('indicators',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('code', sa.Text(), nullable=False, comment='Indicator code'),
    sa.Column('name', sa.Text(), nullable=False, comment='Name (Vietnamese)'),
    sa.Column('name_en', sa.Text(), nullable=True, comment='Name (English)'),
    sa.Column('sector', sa.Text(), nullable=False, comment='Sector'),
    sa.Column('unit', sa.Text(), nullable=True, comment='Unit'),
    sa.Column('target', sa.Double(), nullable=False, comment='Target'),
    sa.Column('direction', sa.Text(), nullable=False, comment='Direction'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('fid'),
    schema='kpi'
    )
    op.create_index('indicators_key', 'indicators', ['code'], unique=True, schema='kpi')
    op.create_table('values',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('indicator_code', sa.Text(), nullable=False, comment='Indicator code'),
    sa.Column('admin_code', sa.Text(), nullable=False, comment='Admin unit code'),
    sa.Column('period', sa.Text(), nullable=False, comment='Period'),
    sa.Column('value', sa.Double(), nullable=False, comment='Value'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('fid'),
    schema='kpi'
    )
    op.create_index('values_key', 'values', ['indicator_code', 'admin_code', 'period'], unique=True, schema='kpi')
    op.create_geospatial_table('parcels',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('commune_code', sa.Text(), nullable=False, comment='Commune code'),
    sa.Column('sheet_no', sa.Integer(), nullable=False, comment='Map sheet number'),
    sa.Column('parcel_no', sa.Integer(), nullable=False, comment='Parcel number'),
    sa.Column('land_use', sa.Text(), nullable=False, comment='Land-use code'),
    sa.Column('area_m2', sa.Double(), nullable=False, comment='Legal area (m²)'),
    sa.Column('address', sa.Text(), nullable=True, comment='Address'),
    sa.Column('certificate_no', sa.Text(), nullable=True, comment='Certificate number'),
    sa.Column('holder_name', sa.Text(), nullable=True, comment='Land user (holder)'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='land'
    )
    op.create_geospatial_index('parcels_geom_gist', 'parcels', ['geom'], unique=False, schema='land', postgresql_using='gist', postgresql_ops={})
    op.create_index('parcels_key', 'parcels', ['commune_code', 'sheet_no', 'parcel_no'], unique=True, schema='land')
    op.create_table('imports',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('layer_id', sa.Text(), nullable=False),
    sa.Column('mode', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('dry_run', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('source_path', sa.Text(), nullable=False),
    sa.Column('source_format', sa.Text(), nullable=True),
    sa.Column('source_checksum', sa.Text(), nullable=True),
    sa.Column('source_crs', sa.Text(), nullable=True),
    sa.Column('source_encoding', sa.Text(), nullable=True),
    sa.Column('source_date', sa.Date(), nullable=True),
    sa.Column('user_name', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('rows_in', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('rows_loaded', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('rows_fixed', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('rows_rejected', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('report', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('previous_table', sa.Text(), nullable=True),
    sa.Column('data_version', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    schema='meta'
    )
    op.create_index('imports_layer_started', 'imports', ['layer_id', 'started_at'], unique=False, schema='meta')
    op.create_geospatial_table('layers',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('group_name', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('title_vi', sa.Text(), nullable=False),
    sa.Column('title_en', sa.Text(), nullable=False),
    sa.Column('description_vi', sa.Text(), nullable=False),
    sa.Column('description_en', sa.Text(), nullable=False),
    sa.Column('geometry_type', sa.Text(), nullable=True),
    sa.Column('sensitivity', sa.Text(), nullable=False),
    sa.Column('pii_fields', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('cadence', sa.Interval(), nullable=False),
    sa.Column('style', sa.Text(), nullable=False),
    sa.Column('definition', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('row_count', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('extent', Geometry(geometry_type='POLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('temporal_min', sa.DateTime(timezone=True), nullable=True),
    sa.Column('temporal_max', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_import_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_import_id', sa.BigInteger(), nullable=True),
    sa.Column('source_date', sa.Date(), nullable=True),
    sa.Column('data_version', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='meta'
    )
    op.create_geospatial_table('rasters',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('title_vi', sa.Text(), nullable=False),
    sa.Column('title_en', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('crs', sa.Text(), nullable=False),
    sa.Column('footprint', Geometry(geometry_type='POLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('bands', sa.Integer(), nullable=False),
    sa.Column('dtype', sa.Text(), nullable=False),
    sa.Column('nodata', sa.Double(), nullable=True),
    sa.Column('resolution', postgresql.ARRAY(sa.Double()), nullable=False),
    sa.Column('unit', sa.Text(), nullable=True),
    sa.Column('sensitivity', sa.Text(), server_default='public', nullable=False),
    sa.Column('import_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    schema='meta'
    )
    op.create_geospatial_index('rasters_footprint_gist', 'rasters', ['footprint'], unique=False, schema='meta', postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('projects',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('project_code', sa.Text(), nullable=False, comment='Project code'),
    sa.Column('name', sa.Text(), nullable=False, comment='Name'),
    sa.Column('kind', sa.Text(), nullable=False, comment='Plan type'),
    sa.Column('level', sa.Text(), nullable=True, comment='Planning level'),
    sa.Column('scale', sa.Text(), nullable=True, comment='Scale'),
    sa.Column('approving_authority', sa.Text(), nullable=True, comment='Approving authority'),
    sa.Column('decision_no', sa.Text(), nullable=True, comment='Decision number'),
    sa.Column('decision_date', sa.Date(), nullable=True, comment='Decision date'),
    sa.Column('status', sa.Text(), nullable=False, comment='Status'),
    sa.Column('area_ha', sa.Double(), nullable=True, comment='Area (ha)'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='planning'
    )
    op.create_index('projects_decision_date', 'projects', ['decision_date'], unique=False, schema='planning')
    op.create_geospatial_index('projects_geom_gist', 'projects', ['geom'], unique=False, schema='planning', postgresql_using='gist', postgresql_ops={})
    op.create_index('projects_key', 'projects', ['project_code'], unique=True, schema='planning')
    op.create_geospatial_table('zones',
    sa.Column('fid', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('zone_code', sa.Text(), nullable=False, comment='Zone code'),
    sa.Column('project_code', sa.Text(), nullable=False, comment='Project code'),
    sa.Column('land_use', sa.Text(), nullable=False, comment='Land-use code'),
    sa.Column('far_max', sa.Double(), nullable=True, comment='Max floor-area ratio'),
    sa.Column('density_max_pct', sa.Double(), nullable=True, comment='Max building density (%)'),
    sa.Column('height_max_m', sa.Double(), nullable=True, comment='Max height (m)'),
    sa.Column('floors_max', sa.Integer(), nullable=True, comment='Max floors'),
    sa.Column('label', sa.Text(), nullable=True, comment='Label'),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), nullable=True, comment='source fields without a registry field'),
    sa.Column('source_date', sa.Date(), nullable=True, comment='date of the source data'),
    sa.Column('import_id', sa.BigInteger(), nullable=True, comment='meta.imports id that loaded the row'),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.PrimaryKeyConstraint('fid'),
    schema='planning'
    )
    op.create_geospatial_index('zones_geom_gist', 'zones', ['geom'], unique=False, schema='planning', postgresql_using='gist', postgresql_ops={})
    op.create_index('zones_key', 'zones', ['zone_code'], unique=True, schema='planning')


def downgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.drop_index('zones_key', table_name='zones', schema='planning')
    op.drop_geospatial_index('zones_geom_gist', table_name='zones', schema='planning', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('zones', schema='planning')
    op.drop_index('projects_key', table_name='projects', schema='planning')
    op.drop_geospatial_index('projects_geom_gist', table_name='projects', schema='planning', postgresql_using='gist', column_name='geom')
    op.drop_index('projects_decision_date', table_name='projects', schema='planning')
    op.drop_geospatial_table('projects', schema='planning')
    op.drop_geospatial_index('rasters_footprint_gist', table_name='rasters', schema='meta', postgresql_using='gist', column_name='footprint')
    op.drop_geospatial_table('rasters', schema='meta')
    op.drop_geospatial_table('layers', schema='meta')
    op.drop_index('imports_layer_started', table_name='imports', schema='meta')
    op.drop_table('imports', schema='meta')
    op.drop_index('parcels_key', table_name='parcels', schema='land')
    op.drop_geospatial_index('parcels_geom_gist', table_name='parcels', schema='land', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('parcels', schema='land')
    op.drop_index('values_key', table_name='values', schema='kpi')
    op.drop_table('values', schema='kpi')
    op.drop_index('indicators_key', table_name='indicators', schema='kpi')
    op.drop_table('indicators', schema='kpi')
    op.drop_index('stations_key', table_name='stations', schema='iot')
    op.drop_geospatial_index('stations_geom_gist', table_name='stations', schema='iot', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('stations', schema='iot')
    op.drop_index('observations_observed_at', table_name='observations', schema='iot')
    op.drop_index('observations_key', table_name='observations', schema='iot')
    op.drop_table('observations', schema='iot')
    op.drop_index('water_pipes_key', table_name='water_pipes', schema='infra')
    op.drop_geospatial_index('water_pipes_geom_gist', table_name='water_pipes', schema='infra', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('water_pipes', schema='infra')
    op.drop_index('trees_key', table_name='trees', schema='infra')
    op.drop_geospatial_index('trees_geom_gist', table_name='trees', schema='infra', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('trees', schema='infra')
    op.drop_index('substations_key', table_name='substations', schema='infra')
    op.drop_geospatial_index('substations_geom_gist', table_name='substations', schema='infra', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('substations', schema='infra')
    op.drop_index('schools_key', table_name='schools', schema='infra')
    op.drop_geospatial_index('schools_geom_gist', table_name='schools', schema='infra', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('schools', schema='infra')
    op.drop_index('public_stations_key', table_name='public_stations', schema='infra')
    op.drop_geospatial_index('public_stations_geom_gist', table_name='public_stations', schema='infra', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('public_stations', schema='infra')
    op.drop_index('power_lines_key', table_name='power_lines', schema='infra')
    op.drop_geospatial_index('power_lines_geom_gist', table_name='power_lines', schema='infra', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('power_lines', schema='infra')
    op.drop_index('health_facilities_key', table_name='health_facilities', schema='infra')
    op.drop_geospatial_index('health_facilities_geom_gist', table_name='health_facilities', schema='infra', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('health_facilities', schema='infra')
    op.drop_index('green_areas_key', table_name='green_areas', schema='infra')
    op.drop_geospatial_index('green_areas_geom_gist', table_name='green_areas', schema='infra', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('green_areas', schema='infra')
    op.drop_index('drainage_outlets_key', table_name='drainage_outlets', schema='infra')
    op.drop_geospatial_index('drainage_outlets_geom_gist', table_name='drainage_outlets', schema='infra', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('drainage_outlets', schema='infra')
    op.drop_index('drainage_lines_key', table_name='drainage_lines', schema='infra')
    op.drop_geospatial_index('drainage_lines_geom_gist', table_name='drainage_lines', schema='infra', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('drainage_lines', schema='infra')
    op.drop_index('houses_key', table_name='houses', schema='housing')
    op.drop_geospatial_index('houses_geom_gist', table_name='houses', schema='housing', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('houses', schema='housing')
    op.drop_index('shelters_key', table_name='shelters', schema='emergency')
    op.drop_geospatial_index('shelters_geom_gist', table_name='shelters', schema='emergency', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('shelters', schema='emergency')
    op.drop_index('incidents_reported_at', table_name='incidents', schema='emergency')
    op.drop_index('incidents_key', table_name='incidents', schema='emergency')
    op.drop_geospatial_index('incidents_geom_gist', table_name='incidents', schema='emergency', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('incidents', schema='emergency')
    op.drop_index('flood_zones_key', table_name='flood_zones', schema='emergency')
    op.drop_geospatial_index('flood_zones_geom_gist', table_name='flood_zones', schema='emergency', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('flood_zones', schema='emergency')
    op.drop_index('reports_reported_at', table_name='reports', schema='citizen')
    op.drop_index('reports_key', table_name='reports', schema='citizen')
    op.drop_geospatial_index('reports_geom_gist', table_name='reports', schema='citizen', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('reports', schema='citizen')
    op.drop_index('waterways_key', table_name='waterways', schema='base')
    op.drop_geospatial_index('waterways_geom_gist', table_name='waterways', schema='base', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('waterways', schema='base')
    op.drop_index('water_areas_key', table_name='water_areas', schema='base')
    op.drop_geospatial_index('water_areas_geom_gist', table_name='water_areas', schema='base', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('water_areas', schema='base')
    op.drop_index('roads_key', table_name='roads', schema='base')
    op.drop_geospatial_index('roads_geom_gist', table_name='roads', schema='base', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('roads', schema='base')
    op.drop_index('places_key', table_name='places', schema='base')
    op.drop_geospatial_index('places_geom_gist', table_name='places', schema='base', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('places', schema='base')
    op.drop_index('provinces_key', table_name='provinces', schema='admin')
    op.drop_geospatial_index('provinces_geom_gist', table_name='provinces', schema='admin', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('provinces', schema='admin')
    op.drop_index('communes_key', table_name='communes', schema='admin')
    op.drop_geospatial_index('communes_geom_gist', table_name='communes', schema='admin', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('communes', schema='admin')
