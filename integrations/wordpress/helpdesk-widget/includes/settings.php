<?php
/**
 * Settings → Helpdesk chat: the helpdesk URL, the widget (site) key and the identity secret.
 * The secret is write-only: the page says whether one is saved and never prints it.
 *
 * @package HelpdeskWidget
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Hook of admin_menu.
 */
function helpdesk_widget_admin_menu() {
	add_options_page(
		__( 'Helpdesk chat', 'helpdesk-widget' ),
		__( 'Helpdesk chat', 'helpdesk-widget' ),
		'manage_options',
		'helpdesk-widget',
		'helpdesk_widget_settings_page'
	);
}

/**
 * Hook of admin_init.
 */
function helpdesk_widget_register_settings() {
	register_setting(
		'helpdesk_widget',
		HELPDESK_WIDGET_OPTION,
		array(
			'type'              => 'array',
			'sanitize_callback' => 'helpdesk_widget_sanitize',
			'default'           => array(),
			'show_in_rest'      => false,
		)
	);
}

/**
 * A "Settings" link beside the plugin on the Plugins page.
 *
 * @param array $links The plugin's links.
 * @return array
 */
function helpdesk_widget_action_links( $links ) {
	$url = admin_url( 'options-general.php?page=helpdesk-widget' );
	array_unshift( $links, '<a href="' . esc_url( $url ) . '">' . esc_html__( 'Settings', 'helpdesk-widget' ) . '</a>' );
	return $links;
}

/**
 * Sanitize callback: an empty secret field keeps the saved secret; "forget" removes it.
 *
 * @param mixed $input The posted values.
 * @return array
 */
function helpdesk_widget_sanitize( $input ) {
	$input = is_array( $input ) ? $input : array();
	$old   = helpdesk_widget_options();
	$url   = isset( $input['url'] ) ? helpdesk_widget_base_url( esc_url_raw( (string) $input['url'] ) ) : $old['url'];
	if ( isset( $input['url'] ) && '' !== trim( (string) $input['url'] ) && '' === $url ) {
		add_settings_error( HELPDESK_WIDGET_OPTION, 'url', __( 'The helpdesk URL must start with https:// (or http://).', 'helpdesk-widget' ) );
		$url = $old['url'];
	}
	$secret = $old['secret'];
	if ( ! empty( $input['forget_secret'] ) ) {
		$secret = '';
	} elseif ( isset( $input['secret'] ) && '' !== trim( (string) $input['secret'] ) ) {
		$secret = trim( (string) $input['secret'] );
	}
	return array(
		'url'      => $url,
		'site_key' => isset( $input['site_key'] ) ? sanitize_text_field( (string) $input['site_key'] ) : $old['site_key'],
		'secret'   => $secret,
	);
}

/**
 * The settings page.
 */
function helpdesk_widget_settings_page() {
	if ( ! current_user_can( 'manage_options' ) ) {
		return;
	}
	$options = helpdesk_widget_options();
	$name    = HELPDESK_WIDGET_OPTION;
	?>
	<div class="wrap">
		<h1><?php echo esc_html( get_admin_page_title() ); ?></h1>
		<p><?php esc_html_e( 'Copy these from your helpdesk: Admin → Inboxes → Chat settings of the chat inbox.', 'helpdesk-widget' ); ?></p>
		<form action="options.php" method="post">
			<?php settings_fields( 'helpdesk_widget' ); ?>
			<table class="form-table" role="presentation">
				<tr>
					<th scope="row"><label for="helpdesk-url"><?php esc_html_e( 'Helpdesk URL', 'helpdesk-widget' ); ?></label></th>
					<td><input type="url" class="regular-text" id="helpdesk-url" name="<?php echo esc_attr( $name ); ?>[url]" value="<?php echo esc_attr( $options['url'] ); ?>" placeholder="https://help.shop.example"></td>
				</tr>
				<tr>
					<th scope="row"><label for="helpdesk-site-key"><?php esc_html_e( 'Widget key', 'helpdesk-widget' ); ?></label></th>
					<td><input type="text" class="regular-text" id="helpdesk-site-key" name="<?php echo esc_attr( $name ); ?>[site_key]" value="<?php echo esc_attr( $options['site_key'] ); ?>">
						<p class="description"><?php esc_html_e( 'The data-site value of the embed snippet.', 'helpdesk-widget' ); ?></p></td>
				</tr>
				<tr>
					<th scope="row"><label for="helpdesk-secret"><?php esc_html_e( 'Identity secret', 'helpdesk-widget' ); ?></label></th>
					<td><input type="password" class="regular-text" id="helpdesk-secret" name="<?php echo esc_attr( $name ); ?>[secret]" value="" autocomplete="new-password">
						<p class="description">
						<?php
						if ( '' !== $options['secret'] ) {
							esc_html_e( 'A secret is saved (it is never shown). Leave this empty to keep it.', 'helpdesk-widget' );
						} else {
							esc_html_e( 'The inbox secret. With it, logged-in customers are signed in to the chat and see their past conversations and orders.', 'helpdesk-widget' );
						}
						?>
						</p>
						<?php if ( '' !== $options['secret'] ) : ?>
							<label><input type="checkbox" name="<?php echo esc_attr( $name ); ?>[forget_secret]" value="1"> <?php esc_html_e( 'Remove the saved secret', 'helpdesk-widget' ); ?></label>
						<?php endif; ?>
					</td>
				</tr>
			</table>
			<?php submit_button(); ?>
		</form>
	</div>
	<?php
}
